"""Every DynamoDB table of the relay: name, keys, indexes and TTL attribute.

Names are `{prefix}_Web2Text_{suffix}`. The first three are the compatible
tables other company systems read (keep their key names); the rest are the
relay's own. `create_all` is what `web2text-relay admin init-tables` runs.
See docs/relay.md for each table's items and access patterns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# Suffixes (referenced from code through these constants, never spelled twice).
LEAD_STATES = "LeadStates"
OPTED_OUT_NUMBERS = "OptedOutNumbers"
API_KEYS = "APIKeys"
DIRECTORY = "Directory"
PROXY_POOL = "ProxyPool"
CONVERSATIONS = "Conversations"
CONVERSATION_PAIRS = "ConversationPairs"
MESSAGES = "Messages"
WEBHOOK_EVENTS = "WebhookEvents"
CHANGE_LOG = "ChangeLog"
LOCATION_SEQ = "LocationSeq"  # unused: the change log needs no counter (changes.py)
IDEMPOTENCY = "Idempotency"
LIMITS = "Limits"
CONSENT_EVENTS = "ConsentEvents"
INBOUND_TEXTS = "InboundTexts"
MEDIA = "Media"
PRESENCE = "Presence"
SCHEDULED = "ScheduledMessages"


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: tuple[str, str]  # (attribute, S|N|B)
    range_key: tuple[str, str] | None = None
    local: bool = False  # LSI (shares the table's hash key) instead of GSI
    #: non-key attributes copied into the index (empty: all of them)
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    suffix: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    compatible: bool = False  # item shape shared with other systems
    doc: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        LEAD_STATES,
        ("LeadId", "S"),
        indexes=(
            # sparse: only leads whose processing is not finished carry PendingShard
            Index("Pending", ("PendingShard", "S"), ("PendingAt", "N")),
            Index("ByLocation", ("LocationId", "S"), ("DateSubmitted", "S")),
            # a retailer's leads by time: the compliance export (app.relay.export);
            # only attributes that never change, so updates of a lead cost no index write
            Index(
                "ByRetailer",
                ("UniversalRetailerId", "S"),
                ("DateSubmitted", "S"),
                include=("LeadType", "Lead", "LocationId"),
            ),
        ),
        compatible=True,
        doc="lead state (compatible) + relay attributes (Version, Progress, pipeline)",
    ),
    TableSpec(
        OPTED_OUT_NUMBERS,
        ("PhoneNumber", "S"),
        compatible=True,
        doc="OptedOutNumbers: pool number -> {DateOptedOut, OptOutRequest}",
    ),
    TableSpec(
        API_KEYS,
        ("API_Key", "S"),
        compatible=True,
        doc="API keys: SHA-256 hex of the key (legacy: the plain key)",
    ),
    TableSpec(
        DIRECTORY,
        ("Id", "S"),
        indexes=(
            Index("ByRetailer", ("RetailerId", "S"), ("Id", "S")),
            Index("ByWeb2TextNumber", ("Web2TextPhoneNumber", "S"), ("Id", "S")),
        ),
        doc="retailers (Kind=RETAILER, Id=retailer id) and locations (Kind=LOCATION)",
    ),
    TableSpec(
        PROXY_POOL,
        ("Pk", "S"),
        ("Sk", "S"),
        doc="Pk=POOL/Sk=number: pool members; Pk=BIND#<address>/Sk=proxy: bindings",
    ),
    TableSpec(
        CONVERSATIONS,
        ("ConversationSid", "S"),
        indexes=(
            Index("ByPair", ("PairKey", "S"), ("CreatedAt", "S")),
            # a retailer's conversations by time: the export's send log; and a
            # customer's, for the retailer of a STOP/START texted after the
            # conversation closed (app.relay.consent_log). Both copy only attributes
            # set once, so a message's update of the conversation writes no index.
            Index(
                "ByRetailer",
                ("RetailerId", "S"),
                ("CreatedAt", "S"),
                include=(
                    "LocationId",
                    "CustomerPhone",
                    "Web2TextNumber",
                    "CustomerProxy",
                    "StoreProxy",
                ),
            ),
            Index(
                "ByCustomer",
                ("CustomerPhone", "S"),
                ("CreatedAt", "S"),
                include=("RetailerId", "LocationId", "CustomerProxy"),
            ),
        ),
        doc="one item per Twilio conversation",
    ),
    TableSpec(
        CONVERSATION_PAIRS,
        ("PairKey", "S"),
        doc="the (customer, Web2Text number) -> non-closed conversation claim",
    ),
    TableSpec(
        MESSAGES,
        ("ConversationSid", "S"),
        ("MessageSid", "S"),
        indexes=(Index("ByCreated", ("ConversationSid", "S"), ("CreatedAt", "S"), local=True),),
        doc="messages of a conversation, keyed by Twilio MessageSid",
    ),
    TableSpec(
        WEBHOOK_EVENTS,
        ("EventKey", "S"),
        ttl_attribute="ExpiresAt",
        doc="dedupe records of webhook deliveries (7-day TTL)",
    ),
    TableSpec(
        CHANGE_LOG,
        ("LocationId", "S"),
        ("Seq", "N"),
        ttl_attribute="ExpiresAt",
        doc="per-location change log, Seq = 1, 2, ... without holes (app.relay.changes)",
    ),
    TableSpec(
        CONSENT_EVENTS,
        ("RetailerId", "S"),
        ("EventKey", "S"),
        doc="append-only consent record: STOP/START and staff opt-outs (app.relay.consent_log)",
    ),
    TableSpec(
        INBOUND_TEXTS,
        ("Id", "S"),
        indexes=(
            # sparse: a text whose routing is not finished carries PendingShard
            Index("Pending", ("PendingShard", "S"), ("PendingAt", "N")),
            # sparse: texts nobody could be found for, for `admin unrouted`
            Index("Unrouted", ("UnroutedShard", "S"), ("ReceivedAt", "S")),
        ),
        doc="texts to pool numbers (Id = MessageSid) and their routing; notice:<phone>|<pool>",
    ),
    TableSpec(
        MEDIA,
        ("MediaSid", "S"),
        doc="photos of messages and staff uploads: where each belongs (scope), type, size",
    ),
    TableSpec(
        IDEMPOTENCY,
        ("Key", "S"),
        ttl_attribute="ExpiresAt",
        doc="Idempotency-Key records, 24 h TTL (owned by app.relay.idempotency)",
    ),
    TableSpec(
        LIMITS,
        ("Pk", "S"),
        ("Sk", "S"),
        ttl_attribute="ExpiresAt",
        doc="rate windows and held slots shared by every instance (app.relay.ratelimit)",
    ),
    TableSpec(
        PRESENCE,
        ("LocationId", "S"),
        ("Sk", "S"),
        ttl_attribute="ExpiresAt",
        doc="who views or types in a conversation, short-lived (app.relay.presence)",
    ),
    TableSpec(
        SCHEDULED,
        ("MessageSid", "S"),
        # sparse: only texts still to send carry DueShard
        indexes=(Index("Due", ("DueShard", "S"), ("DueAt", "N")),),
        doc="texts scheduled for later, claimed by one instance when due (app.relay.scheduled)",
    ),
)

SPECS_BY_SUFFIX: dict[str, TableSpec] = {s.suffix: s for s in SPECS}


def table_name(prefix: str, suffix: str) -> str:
    return f"{prefix}_Web2Text_{suffix}"


def _create_args(prefix: str, spec: TableSpec) -> dict[str, Any]:
    attrs: dict[str, str] = {spec.hash_key[0]: spec.hash_key[1]}
    schema = [{"AttributeName": spec.hash_key[0], "KeyType": "HASH"}]
    if spec.range_key:
        attrs[spec.range_key[0]] = spec.range_key[1]
        schema.append({"AttributeName": spec.range_key[0], "KeyType": "RANGE"})
    gsis: list[dict[str, Any]] = []
    lsis: list[dict[str, Any]] = []
    for idx in spec.indexes:
        attrs[idx.hash_key[0]] = idx.hash_key[1]
        ks = [{"AttributeName": idx.hash_key[0], "KeyType": "HASH"}]
        if idx.range_key:
            attrs[idx.range_key[0]] = idx.range_key[1]
            ks.append({"AttributeName": idx.range_key[0], "KeyType": "RANGE"})
        entry = {"IndexName": idx.name, "KeySchema": ks, "Projection": _projection(idx)}
        (lsis if idx.local else gsis).append(entry)
    args: dict[str, Any] = {
        "TableName": table_name(prefix, spec.suffix),
        "AttributeDefinitions": [
            {"AttributeName": k, "AttributeType": v} for k, v in attrs.items()
        ],
        "KeySchema": schema,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    if lsis:
        args["LocalSecondaryIndexes"] = lsis
    return args


def _projection(idx: Index) -> dict[str, Any]:
    if not idx.include:
        return {"ProjectionType": "ALL"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(idx.include)}


def _add_missing_indexes(ddb: Any, prefix: str, existing: set[str]) -> list[str]:
    """Global indexes added to a spec after its table was made (on production too:
    DynamoDB fills them in the background). One index per UpdateTable, as DynamoDB
    allows; returns `table:index` for each one started."""
    started: list[str] = []
    for spec in SPECS:
        name = table_name(prefix, spec.suffix)
        wanted = [i for i in spec.indexes if not i.local]
        if name not in existing or not wanted:
            continue
        have = {
            g["IndexName"]
            for g in ddb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
        }
        for idx in wanted:
            if idx.name in have:
                continue
            keys = [idx.hash_key, *([idx.range_key] if idx.range_key else [])]
            schema = [{"AttributeName": idx.hash_key[0], "KeyType": "HASH"}]
            if idx.range_key:
                schema.append({"AttributeName": idx.range_key[0], "KeyType": "RANGE"})
            ddb.update_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": k} for a, k in keys],
                GlobalSecondaryIndexUpdates=[
                    {
                        "Create": {
                            "IndexName": idx.name,
                            "KeySchema": schema,
                            "Projection": _projection(idx),
                        }
                    }
                ],
            )
            ddb.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            started.append(f"{name}:{idx.name}")
    return started


def create_all(ddb: Any, prefix: str, *, wait: bool = True) -> list[str]:
    """Create every missing table (idempotent); return the names created.

    `ddb` is a boto3 DynamoDB *client*. Existing tables are left alone, so this
    is safe to run against production to add the relay's new tables.
    """
    existing: set[str] = set()
    for page in ddb.get_paginator("list_tables").paginate():
        existing.update(page.get("TableNames", []))
    created: list[str] = []
    for spec in SPECS:
        name = table_name(prefix, spec.suffix)
        if name in existing:
            continue
        try:
            ddb.create_table(**_create_args(prefix, spec))
        except ddb.exceptions.ResourceInUseException:
            continue  # created concurrently by another init-tables
        created.append(name)
    for name in created if wait else []:
        ddb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    for spec in SPECS:
        name = table_name(prefix, spec.suffix)
        if spec.ttl_attribute and (name in created or not _ttl_enabled(ddb, name)):
            _enable_ttl(ddb, name, spec.ttl_attribute)
    return created + _add_missing_indexes(ddb, prefix, existing)


def _ttl_enabled(ddb: Any, name: str) -> bool:
    """Whether an existing table has TTL on (a table made before its spec had one)."""
    desc = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    return desc.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")


def _enable_ttl(ddb: Any, name: str, attribute: str) -> None:
    for _ in range(20):
        try:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
            )
            return
        except ddb.exceptions.ResourceInUseException:
            time.sleep(0.2)

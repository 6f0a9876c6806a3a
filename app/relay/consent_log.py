"""The append-only consent record (`{P}_Web2Text_ConsentEvents`): every STOP and
START a customer (or a store's phone) texted, and every opt-out staff recorded,
kept for the compliance export. `OptedOutNumbers` (the compatible table) holds
only the current state.

Items: `RetailerId` (hash: the retailer of the conversation that binds the phone
to the pool number, or did last (Conversations' `ByCustomer` index), or of the
store whose phone it is; "unattributed" when none did), `EventKey` (range: `<At>#<Id>`, so
a retailer's events read in time order), `At`, `Kind` (STOP | START |
STAFF_OPT_OUT), `Phone`, `PoolNumber`, `Keyword` (what was texted), `Source`
(customer | store | staff), and when known `LocationId`, `ConversationSid`,
`LeadIds`, `StaffId`, `StaffName`, `Reason`, `MessageSid`.

A webhook delivered twice records one event: its time is when Twilio received the
text (`app.relay.optouts.received_at`), so the second delivery finds the same
item and leaves it as the first wrote it (an event without such a time is fixed
by a dedupe record, `consent:<id>` in WebhookEvents, written first). The first
write wins because a late duplicate sees a changed world: the STOP it repeats has
closed the conversation's leads by then, and it would drop their ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.relay import conversation_store
from app.relay.ddb import all_items, is_conditional_failure
from app.relay.tables import CONSENT_EVENTS
from app.relay.versioned import now_iso

UNATTRIBUTED = "unattributed"
KINDS = ("STOP", "START", "STAFF_OPT_OUT")
#: how long the dedupe record of an event is kept (Twilio retries within hours)
DEDUPE_TTL_S = 7 * 24 * 3600


def _stamp(moment: datetime) -> str:
    """A time as the sort key's prefix: always with microseconds, so that keys sort
    in time order (`isoformat` drops a zero fraction, and Twilio's times are whole
    seconds: "...:00Z" would sort after "...:00.5Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(epoch: float) -> str:
    return _stamp(datetime.fromtimestamp(epoch, UTC))


def consent_table(tables: Any) -> Any:
    return tables.table(CONSENT_EVENTS)


def _event_time(tables: Any, dedupe_id: str | None) -> str:
    """Now, or the time the first delivery of `dedupe_id` fixed."""
    at = _stamp(datetime.now(UTC))
    if not dedupe_id:
        return at
    key = f"consent:{dedupe_id}"
    try:
        tables.events.put_item(
            Item={"EventKey": key, "At": at, "ExpiresAt": int(time.time()) + DEDUPE_TTL_S},
            ConditionExpression="attribute_not_exists(EventKey)",
        )
        return at
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    found = tables.events.get_item(Key={"EventKey": key}, ConsistentRead=True).get("Item") or {}
    return str(found.get("At") or at)


def record_event(
    tables: Any,
    retailer_ids: Iterable[str],
    *,
    kind: str,
    phone: str,
    pool_number: str,
    dedupe_id: str | None = None,
    at: str | None = None,
    **details: Any,
) -> str:
    """Record one consent event under each retailer it concerns; returns its time.
    With `at` (when it happened, fixed: Twilio's receipt of the text) and
    `dedupe_id` the event's key is fixed, so recording it again keeps the first
    item; with `dedupe_id` alone its time is fixed by a dedupe record. `details`:
    keyword, source, location_id, conversation_sid, lead_ids, staff_id, staff_name,
    reason, message_sid."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    at = at if at is not None and dedupe_id else _event_time(tables, dedupe_id)
    suffix = dedupe_id or now_iso()
    item: dict[str, Any] = {"At": at, "Kind": kind, "Phone": phone, "PoolNumber": pool_number}
    names = {
        "keyword": "Keyword",
        "source": "Source",
        "location_id": "LocationId",
        "conversation_sid": "ConversationSid",
        "lead_ids": "LeadIds",
        "staff_id": "StaffId",
        "staff_name": "StaffName",
        "reason": "Reason",
        "message_sid": "MessageSid",
    }
    for key, value in details.items():
        if value not in (None, "", []):
            item[names[key]] = value
    table = consent_table(tables)
    for retailer_id in sorted(set(retailer_ids)) or [UNATTRIBUTED]:
        try:
            table.put_item(
                Item={**item, "RetailerId": retailer_id, "EventKey": f"{at}#{suffix}"},
                ConditionExpression="attribute_not_exists(EventKey)",
            )
        except ClientError as exc:  # recorded already (a duplicate): the first stays
            if not is_conditional_failure(exc):
                raise
    return at


def events(
    tables: Any, retailer_id: str, since: str, until: str, *, page_size: int = 200
) -> Iterator[dict[str, Any]]:
    """A retailer's events with `since <= At < until` (ISO prefixes), in time order,
    page by page."""
    return all_items(
        consent_table(tables).query,
        KeyConditionExpression=Key("RetailerId").eq(retailer_id)
        & Key("EventKey").between(since, until),
        Limit=page_size,
    )


def _conversation_of(tables: Any, phone: str, pool_number: str) -> dict[str, Any] | None:
    """The conversation that binds `phone` to `pool_number` now, else the latest one
    that did (the customer texts after it closed: a START after their STOP)."""
    binding = tables.pool.get_item(
        Key={"Pk": f"BIND#{phone}", "Sk": pool_number}, ConsistentRead=True
    ).get("Item")
    if binding:
        sid = str(binding["ConversationSid"])
        return conversation_store.get_conversation(tables, sid)
    for conv in all_items(
        tables.conversations.query,
        IndexName="ByCustomer",
        KeyConditionExpression=Key("CustomerPhone").eq(phone),
        ScanIndexForward=False,
    ):
        if conv.get("CustomerProxy") == pool_number:
            return conversation_store.get_conversation(tables, str(conv["ConversationSid"]))
    return None


def record_inbound(
    tables: Any, form: dict[str, str], kind: str, *, at: float | None = None
) -> None:
    """A STOP or START texted to a pool number (the Messaging Service's inbound
    webhook), under the retailer of the conversation that binds the sender to that
    number, or of the store whose phone sent it."""
    from app.relay import directory

    sender, pool_number = form.get("From", ""), form.get("To", "")
    retailers: set[str] = set()
    details: dict[str, Any] = {"keyword": (form.get("Body") or kind).strip()[:160]}
    stores = directory.locations_with_number(tables, sender)
    if stores:
        details["source"] = "store"
        retailers.update(loc.retailer_id for loc in stores)
        details["location_id"] = stores[0].location_id
    else:
        details["source"] = "customer"
    conv = _conversation_of(tables, sender, pool_number)
    if conv is not None:
        if conv.get("RetailerId"):
            retailers.add(str(conv["RetailerId"]))
        details.setdefault("location_id", conv.get("LocationId"))
        details["conversation_sid"] = conv["ConversationSid"]
        details["lead_ids"] = [str(x) for x in conv.get("LeadIds") or []]
    message_sid = form.get("MessageSid") or form.get("SmsSid") or ""
    record_event(
        tables,
        retailers,
        kind=kind,
        phone=sender,
        pool_number=pool_number,
        dedupe_id=f"{message_sid}:{kind}" if message_sid else None,
        at=_iso(at) if at is not None else None,
        message_sid=message_sid,
        **details,
    )

"""Repositories of leads, conversations and messages (DynamoDB), and their views.

Other relay modules (the staff API included) read and write these entities only
through the functions here:

- leads: `get_lead`, `put_new_lead`, `update_lead`, `lead_state`, `lead_view`,
  `leads_of_location`;
- conversations: `get_conversation`, `put_conversation`, `update_conversation`,
  `conversation_view`, `conversations_of_location`;
- messages: `get_message`, `put_message_if_new`, `update_message`, `list_messages`,
  `message_view`, `advance_message_status`.

Every update is a read-modify-write guarded by the item's `Version` attribute
(UpdateItem SET ... with `Version = :seen`), retried on a lost race; only the
attributes a change touches are written, so attributes other systems own in the
shared LeadStates items are never overwritten. Each successful update returns
the new item; callers publish it to the change feed (`app.relay.feed.publish`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from app.relay.cache import TtlCache
from app.relay.ddb import all_items, is_conditional_failure

Item = dict[str, Any]
Updates = dict[str, Any]  # top-level attribute -> new value (None: REMOVE)

#: The compatible lead state's attributes (answers of the lead service).
LEAD_STATE_KEYS = (
    "LeadId",
    "LeadType",
    "Status",
    "SchemaVersion",
    "UniversalRetailerId",
    "Lead",
    "DateSubmitted",
    "CloseReason",
    "Integrations",
)


class VersionConflict(Exception):
    """The item's Version is not the one the caller expected (If-Match)."""

    def __init__(self, current: Item | None) -> None:
        super().__init__("version conflict")
        self.current = current


class NotFound(Exception):
    pass


class AlreadyExists(Exception):
    pass


class AlreadyApplied(Exception):
    """A message's effect is already in the item (`EFFECTS_ATTR` holds its MessageSid);
    `item` is the item as it is."""

    def __init__(self, item: Item) -> None:
        super().__init__("already applied")
        self.item = item


#: the MessageSids whose effects a conversation or lead item holds, newest last:
#: what makes a message's effects idempotent (a redelivered or recovered message
#: finds its MessageSid there and changes nothing). Kept to the last EFFECTS_KEEP
#: (trimmed back once the list reaches _EFFECTS_TRIM_AT).
EFFECTS_ATTR = "EffectsApplied"
EFFECTS_KEEP = 50
_EFFECTS_TRIM_AT = EFFECTS_KEEP + 20


def _effects_need_trim(item: Item) -> bool:
    return len(item.get(EFFECTS_ATTR) or []) >= _EFFECTS_TRIM_AT


def _effects_trim(item: Item) -> Updates:
    """The update keeping `item`'s last EFFECTS_KEEP sids (nothing when it has no more)."""
    effects = list(item.get(EFFECTS_ATTR) or [])
    return {EFFECTS_ATTR: effects[-EFFECTS_KEEP:]} if len(effects) > EFFECTS_KEEP else {}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """DynamoDB values (Decimal, sets) as JSON-ready Python values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    return value


def _version(item: Item | None) -> int:
    return int(item.get("Version", 0)) if item else 0


def _rmw(
    table: Any,
    key: Item,
    fn: Callable[[Item], Updates | None],
    *,
    expected_version: int | None = None,
    current: Item | None = None,
    tries: int = 20,
) -> Item | None:
    """Apply `fn(item) -> updates` with a Version condition; None when `fn` changes nothing.

    `fn` may raise to abort. Raises NotFound when the item does not exist,
    VersionConflict when `expected_version` is given and differs. `current`: the
    whole item as the caller just wrote it (ReturnValues=ALL_NEW); the first try
    starts from it instead of a read. If it is stale by then, the Version
    condition fails and the next try reads, as after any lost race.
    """
    for attempt in range(tries):
        if attempt == 0 and current is not None:
            item: Item | None = current
        else:
            item = table.get_item(Key=key, ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(str(key))
        seen = _version(item)
        if expected_version is not None and seen != expected_version:
            raise VersionConflict(item)
        updates = fn(item)
        if not updates:
            return None
        names: dict[str, str] = {"#ver": "Version"}
        values: dict[str, Any] = {":next": seen + 1}
        sets = ["#ver = :next"]
        removes = []
        for i, (attr, value) in enumerate(updates.items()):
            names[f"#a{i}"] = attr
            if value is None:
                removes.append(f"#a{i}")
            else:
                values[f":v{i}"] = value
                sets.append(f"#a{i} = :v{i}")
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        if seen == 0:
            condition = "attribute_exists(#k) AND (attribute_not_exists(#ver) OR #ver = :seen)"
        else:
            condition = "attribute_exists(#k) AND #ver = :seen"
        names["#k"] = next(iter(key))
        values[":seen"] = seen
        try:
            resp = table.update_item(
                Key=key,
                UpdateExpression=expr,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
            return dict(resp["Attributes"])
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            if expected_version is not None:
                latest = table.get_item(Key=key, ConsistentRead=True).get("Item")
                raise VersionConflict(latest) from None
            time.sleep(min(0.005 * (attempt + 1), 0.05))
    raise RuntimeError(f"could not update {key} after {tries} attempts (contention)")


# --------------------------------------------------------------------------- leads


def get_lead(tables: Any, lead_id: str) -> Item | None:
    item = tables.leads.get_item(Key={"LeadId": lead_id}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def put_new_lead(tables: Any, item: Item) -> None:
    """Store a new lead; AlreadyExists when the LeadId is taken."""
    try:
        tables.leads.put_item(Item=item, ConditionExpression="attribute_not_exists(LeadId)")
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise AlreadyExists(item["LeadId"]) from None
        raise


def update_lead(
    tables: Any,
    lead_id: str,
    fn: Callable[[Item], Updates | None],
    *,
    expected_version: int | None = None,
    current: Item | None = None,
) -> Item | None:
    return _rmw(
        tables.leads, {"LeadId": lead_id}, fn, expected_version=expected_version, current=current
    )


#: the most recent activity entries a lead keeps (older ones are dropped)
MAX_ACTIVITY = 200
#: an appended Activity list is trimmed back to MAX_ACTIVITY once it is this long
_ACTIVITY_TRIM_AT = MAX_ACTIVITY + 20
#: Activity entries that stand for a message; a lead keeps only the latest of them.
#: The messages themselves are in the conversation; the lead's history is its
#: lifecycle (created, pipeline moves, assignments, notes, opt-outs), which a busy
#: conversation must not push out. It also keeps the lead item small: every
#: message rewrites it, returns it and carries it in a change to each desktop.
MESSAGE_ACTIVITY_KINDS = frozenset({"inbound", "outbound"})
MESSAGE_ACTIVITY_KEEP = 20
#: trimmed back to MESSAGE_ACTIVITY_KEEP once this many are there (appends need no read)
_MESSAGE_ACTIVITY_TRIM_AT = MESSAGE_ACTIVITY_KEEP + 20


def _is_message_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("kind") in MESSAGE_ACTIVITY_KINDS


def bounded_activity(entries: list[Any]) -> list[Any]:
    """`entries` (oldest first) with only the latest MESSAGE_ACTIVITY_KEEP message
    entries and, of what is left, the latest MAX_ACTIVITY; order kept."""
    messages = [i for i, entry in enumerate(entries) if _is_message_entry(entry)]
    dropped = set(messages[: max(0, len(messages) - MESSAGE_ACTIVITY_KEEP)])
    kept = [entry for i, entry in enumerate(entries) if i not in dropped]
    return kept[-MAX_ACTIVITY:]


def _activity_needs_trim(entries: list[Any]) -> bool:
    return (
        len(entries) >= _ACTIVITY_TRIM_AT
        or sum(1 for entry in entries if _is_message_entry(entry)) >= _MESSAGE_ACTIVITY_TRIM_AT
    )


def note_lead_message(
    tables: Any,
    lead_id: str,
    entry: Item,
    sets: Updates,
    *,
    set_if_missing: Updates | None = None,
    message_sid: str | None = None,
) -> Item | None:
    """A new message's effect on a lead, in ONE UpdateItem without a read: append
    `entry` to `Activity` (`list_append`), SET `sets`, SET each of `set_if_missing`
    only where the attribute is absent (`if_not_exists`) and ADD 1 to `Version`, on
    the condition that the lead exists and is not CLOSED.

    Nothing written depends on what the item held, so no read is needed and no
    concurrent writer's change is lost; bumping `Version` makes any concurrent
    version-guarded `update_lead` see the change and retry. Returns the new item,
    or None when the lead is missing or closed. A list grown past its bounds
    (`_activity_needs_trim`) is trimmed back with `bounded_activity` (a
    version-guarded update, once every 20 messages, computed from the item this
    update returned: no read unless another write got in between).

    With `message_sid` the effect is idempotent: the sid is appended to
    `EFFECTS_ATTR` in the same update, on the condition that it is not there yet
    (None as well when it is: the message's effect is already in the lead).
    """
    names: dict[str, str] = {"#k": "LeadId", "#ver": "Version", "#act": "Activity", "#st": "Status"}
    values: dict[str, Any] = {":one": 1, ":entry": [entry], ":none": [], ":closed": "CLOSED"}
    parts = ["#act = list_append(if_not_exists(#act, :none), :entry)"]
    condition = "attribute_exists(#k) AND (attribute_not_exists(#st) OR #st <> :closed)"
    if message_sid is not None:
        names["#fx"], values[":sid"], values[":sids"] = EFFECTS_ATTR, message_sid, [message_sid]
        parts.append("#fx = list_append(if_not_exists(#fx, :none), :sids)")
        condition += " AND NOT contains(#fx, :sid)"
    for i, (attr, value) in enumerate(sets.items()):
        names[f"#s{i}"], values[f":s{i}"] = attr, value
        parts.append(f"#s{i} = :s{i}")
    for i, (attr, value) in enumerate((set_if_missing or {}).items()):
        names[f"#m{i}"], values[f":m{i}"] = attr, value
        parts.append(f"#m{i} = if_not_exists(#m{i}, :m{i})")
    try:
        resp = tables.leads.update_item(
            Key={"LeadId": lead_id},
            UpdateExpression="SET " + ", ".join(parts) + " ADD #ver :one",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    item = dict(resp["Attributes"])
    if _activity_needs_trim(list(item.get("Activity") or [])) or _effects_need_trim(item):
        # the update answered the whole item (ALL_NEW): trim from it, no read
        trimmed = update_lead(tables, lead_id, _trim_lead_lists, current=item)
        item = trimmed or item
    return item


def _trim_lead_lists(cur: Item) -> Updates | None:
    updates: Updates = {}
    activity = list(cur.get("Activity") or [])
    bounded = bounded_activity(activity)
    if bounded != activity:
        updates["Activity"] = bounded
    updates.update(_effects_trim(cur))
    return updates or None


def lead_state(item: Item) -> Item:
    """The compatible lead state (what the lead service answers)."""
    state = {k: plain(item[k]) for k in LEAD_STATE_KEYS if k in item}
    if state.get("CloseReason") in (None, ""):
        state.pop("CloseReason", None)
    return state


def lead_location(item: Item) -> str:
    return str(item.get("LocationId") or (item.get("Lead") or {}).get("LocationId") or "")


def lead_view(item: Item) -> Item:
    """`LeadView` JSON (camelCase) of a lead item."""
    lead = item.get("Lead") or {}
    integrations = item.get("Integrations") or {}
    twilio = integrations.get("Twilio") or {}
    product = lead.get("AssociatedProductInfo") or None
    traffic = lead.get("Traffic") or None
    submitted = str(item.get("DateSubmitted") or now_iso())
    return {
        "leadId": item["LeadId"],
        "retailerId": item.get("UniversalRetailerId", ""),
        "locationId": lead_location(item),
        "conversationSid": (twilio.get("Data") or {}).get("ConversationSID") or None,
        "status": item.get("Status", "ACTIVE"),
        "pipelineStatus": item.get("PipelineStatus", "new"),
        "assigneeId": item.get("AssigneeId") or None,
        "assigneeName": item.get("AssigneeName") or None,
        "notes": plain(item.get("Notes") or []),
        "activity": plain(item.get("Activity") or []),
        "customer": {
            "name": lead.get("Name", ""),
            "phone": lead.get("PhoneNumber", ""),
            "preferredContact": lead.get("PreferredMethodOfContact", "text"),
            "message": lead.get("CustomerMessage", ""),
            "pageUrl": lead.get("PageUrl", ""),
            "ipAddress": lead.get("IPAddress") or None,
            "product": {k.lower(): v for k, v in product.items()} if product else None,
            "traffic": {k.lower(): v for k, v in traffic.items()} if traffic else None,
        },
        "dateSubmitted": submitted,
        "lastInboundAt": item.get("LastInboundAt") or None,
        "lastActivityAt": item.get("LastActivityAt") or submitted,
        "firstStaffReplyAt": item.get("FirstStaffReplyAt") or None,
        "possibleOptOut": bool(item.get("PossibleOptOut", False)),
        "optedOut": bool(item.get("OptedOut", False)),
        "closeReason": item.get("CloseReason") or None,
        "version": _version(item),
    }


def leads_of_location(tables: Any, location_id: str, limit: int = 500) -> list[Item]:
    newest_first = all_items(
        tables.leads.query,
        IndexName="ByLocation",
        KeyConditionExpression=Key("LocationId").eq(location_id),
        ScanIndexForward=False,
    )
    return list(itertools.islice(newest_first, limit))


def activity(kind: str, text: str, at: str | None = None) -> Item:
    return {"at": at or now_iso(), "kind": kind, "text": text}


# --------------------------------------------------------------------------- conversations


#: reads the attribute values of an error answer (boto3's resource converts only
#: successful answers to Python values)
_DESERIALIZE = TypeDeserializer()

#: conversations this process last read or wrote, by (table, sid): see `recent_conversation`
_RECENT: TtlCache[Item] = TtlCache(max_entries=4096)
RECENT_TTL_S = 30.0


def get_conversation(tables: Any, sid: str) -> Item | None:
    item = tables.conversations.get_item(Key={"ConversationSid": sid}, ConsistentRead=True).get(
        "Item"
    )
    return dict(item) if item else None


def put_conversation(tables: Any, item: Item) -> bool:
    """Store a new conversation item; False if it already exists (a resumed step)."""
    try:
        tables.conversations.put_item(
            Item=item, ConditionExpression="attribute_not_exists(ConversationSid)"
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def update_conversation(
    tables: Any,
    sid: str,
    fn: Callable[[Item], Updates | None],
    *,
    expected_version: int | None = None,
    current: Item | None = None,
) -> Item | None:
    return _rmw(
        tables.conversations,
        {"ConversationSid": sid},
        fn,
        expected_version=expected_version,
        current=current,
    )


def bump_conversation(
    tables: Any,
    sid: str,
    sets: Updates,
    adds: dict[str, int],
    *,
    message_sid: str | None = None,
) -> Item:
    """One UpdateItem without a read, for changes that do not depend on the item:
    SET `sets`, ADD `adds` (counters) and ADD 1 to `Version`, so a concurrent
    version-guarded `update_conversation` still sees the change and retries.
    Returns the new item; NotFound when the conversation does not exist.

    With `message_sid` the change is idempotent: the sid is appended to
    `EFFECTS_ATTR` in the same update, on the condition that it is not there yet;
    AlreadyApplied (with the item as it is) when it is.
    """
    names: dict[str, str] = {"#k": "ConversationSid", "#ver": "Version"}
    values: dict[str, Any] = {":one": 1}
    set_parts, add_parts = [], ["#ver :one"]
    condition = "attribute_exists(#k)"
    if message_sid is not None:
        names["#fx"], values[":sid"] = EFFECTS_ATTR, message_sid
        values[":sids"], values[":none"] = [message_sid], []
        set_parts.append("#fx = list_append(if_not_exists(#fx, :none), :sids)")
        condition += " AND NOT contains(#fx, :sid)"
    for i, (attr, value) in enumerate(sets.items()):
        names[f"#s{i}"], values[f":s{i}"] = attr, value
        set_parts.append(f"#s{i} = :s{i}")
    for i, (attr, delta) in enumerate(adds.items()):
        names[f"#d{i}"], values[f":d{i}"] = attr, delta
        add_parts.append(f"#d{i} :d{i}")
    expr = "ADD " + ", ".join(add_parts)
    if set_parts:
        expr = "SET " + ", ".join(set_parts) + " " + expr
    try:
        resp = tables.conversations.update_item(
            Key={"ConversationSid": sid},
            UpdateExpression=expr,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        current: Any = exc.response.get("Item")  # ReturnValuesOnConditionCheckFailure
        if not current:
            raise NotFound(sid) from None
        raise AlreadyApplied({k: _DESERIALIZE.deserialize(v) for k, v in current.items()}) from None
    item = dict(resp["Attributes"])
    if _effects_need_trim(item):
        trim = update_conversation(
            tables, sid, lambda cur: _effects_trim(cur) or None, current=item
        )
        item = trim or item
    _RECENT.put((tables.conversations.name, sid), item, RECENT_TTL_S)
    return dict(item)


def recent_conversation(tables: Any, sid: str) -> Item | None:
    """The conversation as this process last read or wrote it (at most RECENT_TTL_S
    ago), else read. Only for what never changes after creation (the customer, the
    Web2Text number, LocationId): anything else must come from a fresh read or write
    (`bump_conversation` returns one)."""
    item = _RECENT.get((tables.conversations.name, sid))
    if item is not None:
        return dict(item)
    item = get_conversation(tables, sid)
    if item is not None:
        _RECENT.put((tables.conversations.name, sid), dict(item), RECENT_TTL_S)
    return item


def conversation_locations(item: Item) -> list[str]:
    locs = list(item.get("LocationIds") or [])
    if item.get("LocationId") and item["LocationId"] not in locs:
        locs.insert(0, item["LocationId"])
    return [str(x) for x in locs]


def conversation_view(item: Item, location_id: str | None = None) -> Item:
    """`ConversationView` JSON; `location_id` picks the location it is shown under."""
    return {
        "conversationSid": item["ConversationSid"],
        "locationId": location_id or item.get("LocationId", ""),
        "customerPhone": item.get("CustomerPhone", ""),
        "web2textNumber": item.get("Web2TextNumber", ""),
        "customerProxy": item.get("CustomerProxy") or None,
        "storeProxy": item.get("StoreProxy") or None,
        "state": item.get("State", "active"),
        "leadIds": plain(item.get("LeadIds") or []),
        "unreadCount": int(item.get("UnreadCount", 0)),
        "lastMessageAt": item.get("LastMessageAt") or None,
        "lastMessagePreview": item.get("LastMessagePreview") or None,
        "optedOut": bool(item.get("OptedOut", False)),
        "version": _version(item),
    }


def conversations_of_location(tables: Any, location_id: str) -> list[Item]:
    return list(
        all_items(
            tables.conversations.scan,
            FilterExpression="contains(LocationIds, :loc)",
            ExpressionAttributeValues={":loc": location_id},
        )
    )


# --------------------------------------------------------------------------- messages


def get_message(tables: Any, conversation_sid: str, message_sid: str) -> Item | None:
    item = tables.messages.get_item(
        Key={"ConversationSid": conversation_sid, "MessageSid": message_sid}, ConsistentRead=True
    ).get("Item")
    return dict(item) if item else None


def put_message_if_new(tables: Any, item: Item) -> bool:
    """Store a message; False when that MessageSid is already stored (a duplicate)."""
    item = dict(item)
    item.setdefault("Version", 1)
    item.setdefault("CreatedAt", now_iso())
    try:
        tables.messages.put_item(Item=item, ConditionExpression="attribute_not_exists(MessageSid)")
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def update_message(
    tables: Any, conversation_sid: str, message_sid: str, fn: Callable[[Item], Updates | None]
) -> Item | None:
    return _rmw(
        tables.messages, {"ConversationSid": conversation_sid, "MessageSid": message_sid}, fn
    )


def advance_message_status(
    tables: Any,
    conversation_sid: str,
    message_sid: str,
    status: str,
    *,
    error_code: int | None = None,
    error_reason: str | None = None,
) -> Item | None:
    """Move a message's status forward only (`app.core.message_status.advance`)."""
    from app.core.message_status import MessageStatus, advance, parse_status

    new = parse_status(status)
    if new is None:
        return None

    def fn(item: Item) -> Updates | None:
        current = parse_status(str(item.get("Status", "queued"))) or MessageStatus.QUEUED
        nxt = advance(current, new)
        if nxt == current:
            return None
        updates: Updates = {"Status": nxt.value, "UpdatedAt": now_iso()}
        if nxt.is_final and error_code is not None:
            updates["ErrorCode"] = int(error_code)
            if error_reason:
                updates["ErrorReason"] = error_reason
        return updates

    try:
        return update_message(tables, conversation_sid, message_sid, fn)
    except NotFound:
        return None


def list_messages(
    tables: Any, conversation_sid: str, limit: int = 100, newest_first: bool = False
) -> list[Item]:
    resp = tables.messages.query(
        IndexName="ByCreated",
        KeyConditionExpression=Key("ConversationSid").eq(conversation_sid),
        ScanIndexForward=not newest_first,
        Limit=limit,
    )
    return [dict(i) for i in resp.get("Items", [])]


def message_view(item: Item) -> Item:
    """`MessageView` JSON of a message item."""
    return {
        "messageSid": item["MessageSid"],
        "conversationSid": item["ConversationSid"],
        "locationId": item.get("LocationId", ""),
        "index": int(item["Index"]) if item.get("Index") is not None else None,
        "author": item.get("Author", ""),
        "authorKind": item.get("AuthorKind", "system"),
        "staffId": item.get("StaffId") or None,
        "staffName": item.get("StaffName") or None,
        "body": item.get("Body", ""),
        "status": item.get("Status", "queued"),
        "errorCode": int(item["ErrorCode"]) if item.get("ErrorCode") is not None else None,
        "errorReason": item.get("ErrorReason") or None,
        "idempotencyKey": item.get("IdempotencyKey") or None,
        "createdAt": item.get("CreatedAt") or now_iso(),
        "version": _version(item),
    }

"""The lead repository: lead items (LeadStates) read, created and updated, a new
message's effect on a lead, the bounded activity history, and the lead's views
(the compatible lead state and the staff API's `LeadView`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.relay.connectors.views import integration_views
from app.relay.ddb import all_items, is_conditional_failure
from app.relay.versioned import (
    EFFECTS_ATTR,
    AlreadyExists,
    Item,
    Updates,
    effects_need_trim,
    effects_trim,
    now_iso,
    plain,
    update_versioned,
    version_of,
)

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
    return update_versioned(
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
    if _activity_needs_trim(list(item.get("Activity") or [])) or effects_need_trim(item):
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
    updates.update(effects_trim(cur))
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
        "integrations": integration_views(item),
        "source": lead.get("Source") or "web",
        "version": version_of(item),
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

"""The conversation repository: conversation items read, created and updated
(version-guarded, or in one read-free UpdateItem for a new message's effect),
the conversations this process last saw, and the staff API's `ConversationView`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from app.relay.cache import TtlCache
from app.relay.ddb import all_items, is_conditional_failure
from app.relay.versioned import (
    EFFECTS_ATTR,
    AlreadyApplied,
    Item,
    NotFound,
    Updates,
    effects_need_trim,
    effects_trim,
    plain,
    update_versioned,
    version_of,
)

#: reads the attribute values of an error answer (boto3's resource converts only
#: successful answers to Python values)
_DESERIALIZE = TypeDeserializer()

#: how long a conversation this process read or wrote is reused (`recent_conversation`)
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
    return update_versioned(
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
    recent: TtlCache[Item] | None = None,
) -> Item:
    """One UpdateItem without a read, for changes that do not depend on the item:
    SET `sets`, ADD `adds` (counters) and ADD 1 to `Version`, so a concurrent
    version-guarded `update_conversation` still sees the change and retries.
    Returns the new item; NotFound when the conversation does not exist.

    With `message_sid` the change is idempotent: the sid is appended to
    `EFFECTS_ATTR` in the same update, on the condition that it is not there yet;
    AlreadyApplied (with the item as it is) when it is. `recent` keeps the new item.
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
    if effects_need_trim(item):
        trim = update_conversation(tables, sid, lambda cur: effects_trim(cur) or None, current=item)
        item = trim or item
    if recent is not None:
        recent.put((tables.conversations.name, sid), item, RECENT_TTL_S)
    return dict(item)


def recent_conversation(recent: TtlCache[Item], tables: Any, sid: str) -> Item | None:
    """The conversation as `recent` (the app's `RelayCaches.conversations`) holds it
    from a read or write at most RECENT_TTL_S ago, else read. Only for what never
    changes after creation (the customer, the Web2Text number, LocationId):
    anything else must come from a fresh read or write (`bump_conversation`
    returns one)."""
    item = recent.get((tables.conversations.name, sid))
    if item is not None:
        return dict(item)
    item = get_conversation(tables, sid)
    if item is not None:
        recent.put((tables.conversations.name, sid), dict(item), RECENT_TTL_S)
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
        "version": version_of(item),
    }


def conversations_of_location(tables: Any, location_id: str) -> list[Item]:
    return list(
        all_items(
            tables.conversations.scan,
            FilterExpression="contains(LocationIds, :loc)",
            ExpressionAttributeValues={":loc": location_id},
        )
    )

"""The message repository: message items read, stored once per MessageSid and
moved forward in status, a conversation's messages in order, and the staff API's
`MessageView`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.message_status import MessageStatus, advance, parse_status
from app.relay.ddb import is_conditional_failure
from app.relay.versioned import Item, NotFound, Updates, now_iso, update_versioned, version_of


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
    return update_versioned(
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
        "media": [
            {
                "sid": m["Sid"],
                "contentType": m.get("ContentType", ""),
                "filename": m.get("Filename") or None,
                "size": int(m.get("Size") or 0),
            }
            for m in item.get("Media") or []
        ],
        "call": call_view(item.get("Call")),
        "createdAt": item.get("CreatedAt") or now_iso(),
        "version": version_of(item),
    }


def call_view(call: Any) -> Item | None:
    """A phone call's outcome on its message (`Call`: CallSid, Direction, Outcome,
    Duration), or None for a text."""
    if not isinstance(call, dict):
        return None
    return {
        "callSid": str(call.get("CallSid", "")),
        "direction": str(call.get("Direction", "")),
        "outcome": str(call.get("Outcome", "")),
        "durationS": int(call.get("Duration") or 0),
    }

"""Texts scheduled for later (`{P}_Web2Text_ScheduledMessages`): the items, their
wire view, scheduling and cancelling. Sending them when due is
`app.relay.scheduled_dispatch`.

Item: `MessageSid` (the relay's id of the scheduled text, `W2TS…`, made from the
staff member's Idempotency-Key so that a retried request finds the item its first
attempt stored), `ConversationSid`, `LocationId`, `LocationIds`, `RetailerId`,
`Body`, `Status` (scheduled | sending | sent | canceled | failed), `SendAt`
(ISO-8601, when it goes), `DueAt` (the same in epoch seconds), `DueShard` ("D"
while it is still to send: the sparse GSI `Due` lists what is due),
`RequestedSendAt`, `MovedForQuietHours`, `StaffId`, `StaffName`, `IdempotencyKey`,
`ClaimOwner`/`ClaimUntil` (the instance sending it, see the dispatch module),
`Attempts`, `SentMessageSid`, `ErrorReason`, `ErrorMessage`, `CreatedAt`, `Version`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from app.core.wire_staff import MAX_SCHEDULE_DAYS, ScheduledStatus
from app.relay import conversation_store, directory, sends
from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.tables import SCHEDULED
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext

DUE = "D"
SID_PREFIX = "W2TS"


def table(ctx: RelayContext) -> Any:
    return ctx.tables.table(SCHEDULED)


def scheduled_sid(scope: str, key: str) -> str:
    """The id of the text scheduled by (scope, Idempotency-Key): the same for a retry."""
    digest = hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()
    return SID_PREFIX + digest[:30]


def epoch(value: datetime) -> Decimal:
    return Decimal(str(round(value.timestamp(), 3)))


def parse_send_at(raw: object, now: datetime) -> datetime:
    """`sendAt` as an aware UTC time: 400 `invalid_send_at` unless it is ISO-8601 with a
    zone, 422 `send_at_too_far` past MAX_SCHEDULE_DAYS. A time already past means now
    (a text queued offline for "in an hour" may reach the relay later)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "invalid_send_at", "sendAt must be a UTC ISO-8601 time")
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid_send_at", "sendAt must be a UTC ISO-8601 time") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ApiError(400, "invalid_send_at", "sendAt must carry its zone (e.g. ...Z)")
    at = at.astimezone(UTC)
    if at - now > timedelta(days=MAX_SCHEDULE_DAYS):
        raise ApiError(
            422,
            "send_at_too_far",
            f"A text can be scheduled at most {MAX_SCHEDULE_DAYS} days ahead",
        )
    return max(at, now)


def allowed_send_at(ctx: RelayContext, conv: Item, at: datetime) -> datetime | None:
    """None when quiet hours allow texting the customer at `at`, else the next allowed
    moment after it (the same rule as a send: `sends.check_sendable`)."""
    leads = sends.conversation_leads(ctx.tables, conv)
    last = sends.last_customer_contact(conv, leads)
    if last is not None and at - last <= sends.QUIET_HOURS_AFTER:
        return None
    location = directory.get_location(ctx.tables, str(conv.get("LocationId", "")))
    tz = location.timezone if location else None
    return sends.quiet_hours_next_allowed(at, last, str(conv.get("CustomerPhone", "")), tz)


def view(item: Item) -> dict[str, Any]:
    """`ScheduledView` JSON of an item."""
    return {
        "messageSid": item["MessageSid"],
        "conversationSid": item["ConversationSid"],
        "locationId": item.get("LocationId", ""),
        "body": item.get("Body", ""),
        "status": item.get("Status", ScheduledStatus.SCHEDULED.value),
        "sendAt": item["SendAt"],
        "requestedSendAt": item.get("RequestedSendAt") or item["SendAt"],
        "movedForQuietHours": bool(item.get("MovedForQuietHours", False)),
        "staffId": item.get("StaffId") or None,
        "staffName": item.get("StaffName") or None,
        "idempotencyKey": item.get("IdempotencyKey") or None,
        "sentMessageSid": item.get("SentMessageSid") or None,
        "errorReason": item.get("ErrorReason") or None,
        "errorMessage": item.get("ErrorMessage") or None,
        "createdAt": item.get("CreatedAt") or item["SendAt"],
        "version": int(item.get("Version", 0)),
    }


def announce(ctx: RelayContext, item: Item) -> None:
    """The scheduled text's state, to every desktop of its conversation's locations."""
    locations = list(item.get("LocationIds") or [item.get("LocationId", "")])
    for loc in locations:
        if loc:
            data = view(item)
            data["locationId"] = loc
            publish(
                ctx.change_log, loc, "scheduled", item["MessageSid"], int(item["Version"]), data
            )


def get(ctx: RelayContext, sid: str) -> Item | None:
    item = table(ctx).get_item(Key={"MessageSid": sid}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def create(
    ctx: RelayContext,
    conv: Item,
    *,
    sid: str,
    body: str,
    requested: datetime,
    staff_id: str,
    staff_name: str,
    key: str,
    now: datetime,
) -> Item:
    """Store the scheduled text (once: a retry of the same request answers the first
    item) and announce it. Quiet hours move it to the customer's next allowed moment."""
    moved_to = allowed_send_at(ctx, conv, requested)
    send_at = moved_to or requested
    item: Item = {
        "MessageSid": sid,
        "ConversationSid": str(conv["ConversationSid"]),
        "LocationId": str(conv.get("LocationId", "")),
        "LocationIds": conversation_store.conversation_locations(conv),
        "RetailerId": str(conv.get("RetailerId", "")),
        "Body": body,
        "Status": ScheduledStatus.SCHEDULED.value,
        "SendAt": sends.iso(send_at),
        "DueAt": epoch(send_at),
        "DueShard": DUE,
        "RequestedSendAt": sends.iso(requested),
        "MovedForQuietHours": moved_to is not None,
        "StaffId": staff_id,
        "StaffName": staff_name,
        "IdempotencyKey": key,
        "Attempts": 0,
        "CreatedAt": sends.iso(now),
        "Version": 1,
    }
    try:
        table(ctx).put_item(Item=item, ConditionExpression="attribute_not_exists(MessageSid)")
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return get(ctx, sid) or item
    announce(ctx, item)
    return item


def cancel(ctx: RelayContext, item: Item) -> Item:
    """Cancel a text not sent yet; a canceled one answers as it is; 409 `already_sent`
    once an instance is sending it (or sent it), `scheduled_failed` once it failed."""
    sid = str(item["MessageSid"])
    try:
        resp = table(ctx).update_item(
            Key={"MessageSid": sid},
            UpdateExpression="SET #s = :canceled, Version = Version + :one REMOVE DueShard",
            ConditionExpression="#s = :scheduled",
            ExpressionAttributeNames={"#s": "Status"},
            ExpressionAttributeValues={
                ":canceled": ScheduledStatus.CANCELED.value,
                ":scheduled": ScheduledStatus.SCHEDULED.value,
                ":one": 1,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        current = get(ctx, sid) or item
        return _refuse_cancel(current)
    canceled = dict(resp["Attributes"])
    announce(ctx, canceled)
    return canceled


def _refuse_cancel(current: Item) -> Item:
    status = str(current.get("Status"))
    if status == ScheduledStatus.CANCELED:
        return current
    if status == ScheduledStatus.FAILED:
        raise ApiError(
            409,
            "scheduled_failed",
            "This text could not be sent and is no longer scheduled",
            current=view(current),
        )
    raise ApiError(
        409,
        "already_sent",
        "This text is being sent or was sent already",
        current=view(current),
    )

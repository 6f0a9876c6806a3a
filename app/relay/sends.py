"""Staff message sends: `POST /v1/conversations/{sid}/messages`.

At most one Twilio message per Idempotency-Key, across concurrent requests and
relay instances:

1. The route claims the key in the idempotency table (conditional put) before
   any side effect (`app.relay.idempotency.run_idempotent`); a concurrent
   duplicate gets 409 `idempotency_in_progress`, a later one the first answer.
2. Checks that need no side effect: conversation state, opt-out, quiet hours.
3. The staff member's chat identity `staff:<StaffId>` joins the conversation
   once (remembered on the conversation item; Twilio's 50433 "already a
   participant" counts as done), so the message is authored by that identity
   and Twilio delivers it to both SMS participants (customer and store phone).
4. Twilio has no idempotency key for message create, so the key travels in the
   message `Attributes` (`IdempotencyKey`, plus the gateway's own `W2TKey`).
   When an attempt's outcome is unknown (timeout, 5xx) the gateway lists the
   conversation's recent messages and looks for the key before sending again;
   when a previous holder of the key crashed or failed (`taken_over`), we look
   first too.
5. The message item is stored (keyed by MessageSid, so a duplicate is a no-op),
   the conversation and its leads are updated (idempotently: a resumed attempt
   completes what a crashed one left undone, without doubling anything), and
   changes are published; the answer (202 + MessageView) is stored as the key's
   answer.

API-created messages do not fire `onMessageAdded` (no `X-Twilio-Webhook-Enabled`):
the relay records its own message here; delivery receipts still arrive through
`/TwilioWebhooks/sync` and move the stored message's status forward.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from app.core.phones import mask_phone
from app.core.statuses import PipelineStatus, PipelineTrigger, auto_advance
from app.relay import conversation_store, directory, lead_store, message_store, versioned
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.twilio_client import KEY_ATTRIBUTE, is_transient

log = logging.getLogger("app.relay.sends")

#: Twilio: "Participant already exists" / "Conversation is closed".
PARTICIPANT_EXISTS = 50433
CONVERSATION_CLOSED = 50434
#: Contact older than this needs quiet hours respected (TCPA-style rule).
QUIET_HOURS_AFTER = timedelta(hours=24)
#: Recent messages searched for an idempotency key before a resend.
LOOKBACK = 100
PREVIEW_CHARS = 140


def staff_identity(staff_id: str) -> str:
    return f"staff:{staff_id}"


@dataclass(frozen=True)
class Sender:
    staff_id: str
    name: str


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- checks


def conversation_leads(tables: Any, conv: dict[str, Any]) -> list[dict[str, Any]]:
    leads = []
    for lead_id in conv.get("LeadIds") or []:
        item = lead_store.get_lead(tables, str(lead_id))
        if item is not None:
            leads.append(item)
    return leads


def last_customer_contact(conv: dict[str, Any], leads: list[dict[str, Any]]) -> datetime | None:
    """The customer's latest contact: an inbound text, or submitting a lead form."""
    times = [_parse_time(conv.get("LastInboundAt"))]
    for lead in leads:
        times.append(_parse_time(lead.get("LastInboundAt")))
        if (lead.get("Lead") or {}).get("Source") != "staff":  # staff made it, not them
            times.append(_parse_time(lead.get("DateSubmitted")))
    known = [t for t in times if t is not None]
    return max(known) if known else None


def is_opted_out(tables: Any, customer: str, proxy: str | None) -> bool:
    """The customer texted STOP to the proxy number they talk to (or to every number)."""
    item = tables.optouts.get_item(Key={"PhoneNumber": customer}, ConsistentRead=True).get("Item")
    if not item:
        return False
    numbers = item.get("OptedOutNumbers") or {}
    if not isinstance(numbers, dict):
        return False
    return (proxy is not None and proxy in numbers) or "*" in numbers


def quiet_hours_next_allowed(
    now: datetime, last_contact: datetime | None, customer_phone: str, location_tz: str | None
) -> datetime | None:
    """None when texting the customer is allowed now, else the next allowed moment.

    `app.core.quiet_hours.check` exempts a customer who was in touch within 24 h
    and otherwise applies the customer's local window (every zone of their area
    code; the location's zone only for a number without one; federal 8:00-21:00 or
    the state's stricter one).
    """
    from app.core import quiet_hours

    decision = quiet_hours.check(now, last_contact, location_tz, customer_phone or None)
    return None if decision.allowed else decision.next_allowed_at


def check_sendable(ctx: Any, conv: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Raise the 409/422 that forbids this send; return the conversation's leads."""
    if str(conv.get("State", "active")) == "closed":
        raise ApiError(409, "conversation_closed", "Conversation is closed")
    customer = str(conv.get("CustomerPhone", ""))
    if conv.get("OptedOut") or is_opted_out(ctx.tables, customer, conv.get("CustomerProxy")):
        raise ApiError(422, "recipient_opted_out", "The customer opted out of text messages (STOP)")
    leads = conversation_leads(ctx.tables, conv)
    last = last_customer_contact(conv, leads)
    if last is None or now - last > QUIET_HOURS_AFTER:
        location = directory.get_location(ctx.tables, str(conv.get("LocationId", "")))
        tz = location.timezone if location else None
        nxt = quiet_hours_next_allowed(now, last, customer, tz)
        if nxt is not None:
            raise ApiError(
                422,
                "quiet_hours",
                "It is outside texting hours where the customer is; try again later",
                nextAllowedAt=iso(nxt),
            )
    return leads


# --------------------------------------------------------------------------- Twilio


def _twilio_failure(request_like: Any, exc: Exception) -> ApiError:
    """The answer for a Twilio failure (a 5xx is not stored: the retry looks first)."""
    # Twilio errors themselves are counted where they happen (gateway, create loop).
    if isinstance(exc, TwilioRestException):
        if exc.code == CONVERSATION_CLOSED:
            return ApiError(409, "conversation_closed", "Conversation is closed")
        if exc.status == 429 or exc.status >= 500:
            return ApiError(
                503,
                "upstream_unavailable",
                "Twilio is not answering; retry with the same Idempotency-Key",
                headers={"Retry-After": "5"},
            )
        return ApiError(
            502, "twilio_rejected", f"Twilio refused the message ({exc.code})", twilioCode=exc.code
        )
    return ApiError(
        503,
        "upstream_unavailable",
        "Twilio is not answering; retry with the same Idempotency-Key",
        headers={"Retry-After": "5"},
    )


def ensure_staff_participant(ctx: Any, conv: dict[str, Any], sender: Sender) -> None:
    identity = staff_identity(sender.staff_id)
    if identity in (conv.get("StaffParticipants") or []):
        return
    sid = str(conv["ConversationSid"])
    gateway = ctx.twilio
    try:
        gateway.call(
            "add_staff_participant",
            lambda: gateway.conversations(sid).participants.create(
                identity=identity,
                attributes=json.dumps({"Role": "staff", "StaffId": sender.staff_id}),
            ),
        )
    except TwilioRestException as exc:
        if exc.code != PARTICIPANT_EXISTS:
            raise

    def add(item: dict[str, Any]) -> dict[str, Any] | None:
        known = list(item.get("StaffParticipants") or [])
        if identity in known:
            return None
        return {"StaffParticipants": [*known, identity]}

    conversation_store.update_conversation(ctx.tables, sid, add)


def _attributes(msg: Any) -> dict[str, Any]:
    raw = getattr(msg, "attributes", None)
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def find_sent(ctx: Any, sid: str, key: str) -> Any | None:
    """The conversation's recent message carrying `key`, if any.

    Raises when Twilio cannot be asked: then the outcome is still unknown and the
    caller must not send (the request fails with 503 and is retried later).
    """
    gateway = ctx.twilio
    recent = gateway.call(
        "list_messages",
        lambda: gateway.conversations(sid).messages.list(order="desc", limit=LOOKBACK),
    )
    for msg in recent:
        attrs = _attributes(msg)
        if key in (attrs.get("IdempotencyKey"), attrs.get(KEY_ATTRIBUTE)):
            return msg
    return None


def send_via_twilio(
    ctx: Any,
    conv: dict[str, Any],
    sender: Sender,
    body: str,
    key: str,
    *,
    look_first: bool,
    media_sid: str | None = None,
) -> Any:
    """Create the message at most once for `key` (see the module doc)."""
    sid = str(conv["ConversationSid"])
    ensure_staff_participant(ctx, conv, sender)
    if look_first:  # an earlier holder of the key may have sent it before failing
        found = find_sent(ctx, sid, key)
        if found is not None:
            return found
    ctx.checkpoint("send.before_twilio")
    kwargs: dict[str, Any] = {
        "author": staff_identity(sender.staff_id),
        "attributes": json.dumps(
            {
                "IdempotencyKey": key,
                KEY_ATTRIBUTE: key,
                "StaffId": sender.staff_id,
                "StaffName": sender.name,
            }
        ),
    }
    if body or not media_sid:
        kwargs["body"] = body
    if media_sid:
        kwargs["media_sid"] = media_sid
    attempts = max(1, int(getattr(ctx.settings, "twilio_max_attempts", 3)))
    for attempt in range(1, attempts + 1):
        try:
            msg = ctx.twilio.conversations(sid).messages.create(**kwargs)
            break
        except Exception as exc:
            ctx.metrics.twilio_error(getattr(exc, "code", None) or type(exc).__name__)
            if not is_transient(exc) or attempt == attempts:
                raise
            # Outcome unknown: the message may exist. Look before sending again; if
            # the look itself fails, give up (503) rather than risk a duplicate.
            found = find_sent(ctx, sid, key)
            if found is not None:
                msg = found
                break
    ctx.checkpoint("send.after_twilio")
    return msg


# --------------------------------------------------------------------------- recording


def _msg_created(msg: Any, fallback: datetime) -> str:
    created = getattr(msg, "date_created", None)
    parsed = _parse_time(created)
    return iso(parsed or fallback)


def record_sent(
    ctx: Any,
    conv: dict[str, Any],
    leads: list[dict[str, Any]],
    sender: Sender,
    msg: Any,
    body: str,
    key: str,
    now: datetime,
    media: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store the message and its effects; returns the MessageView JSON. `media`: the
    message's photo entries (`Sid`, `ContentType`, `Filename`, `Size`)."""
    sid = str(conv["ConversationSid"])
    locations = conversation_store.conversation_locations(conv)
    item = _sent_message_item(conv, locations, sender, msg, body, key, now, media)
    created = message_store.put_message_if_new(ctx.tables, item)
    ctx.checkpoint("send.after_store")
    stored = item if created else message_store.get_message(ctx.tables, sid, str(msg.sid)) or item
    view = message_store.message_view(stored)
    # The effects below are idempotent and applied on every attempt: an attempt
    # that crashed after storing the message may not have applied them (a repeated
    # change of the same version is ignored by every receiver).
    publish(ctx.change_log, locations, "message", str(msg.sid), int(stored.get("Version", 1)), view)
    sent_at = str(stored.get("CreatedAt") or iso(now))
    sent_time = _parse_time(sent_at) or now
    preview = body[:PREVIEW_CHARS] or ("[photo]" if media else "")
    _touch_conversation(ctx, sid, sent_at, sent_time, preview)
    _touch_leads(ctx, leads, f"{sender.name}: {preview}", sent_at, sent_time)
    log.info(
        "staff message sent",
        extra={
            "conversation": sid,
            "staff": sender.staff_id,
            "to": mask_phone(conv.get("CustomerPhone", "")),
        },
    )
    return view


def _sent_message_item(
    conv: dict[str, Any],
    locations: list[str],
    sender: Sender,
    msg: Any,
    body: str,
    key: str,
    now: datetime,
    media: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The message item of a staff send, still `queued` until a receipt."""
    item: dict[str, Any] = {
        "ConversationSid": str(conv["ConversationSid"]),
        "MessageSid": str(msg.sid),
        "LocationId": str(conv.get("LocationId") or (locations[0] if locations else "")),
        "Author": staff_identity(sender.staff_id),
        "AuthorKind": "staff",
        "StaffId": sender.staff_id,
        "StaffName": sender.name,
        "Body": body,
        "Status": "queued",
        "IdempotencyKey": key,
        "CreatedAt": _msg_created(msg, now),
        "Version": 1,
    }
    if media:
        item["Media"] = media
    index = getattr(msg, "index", None)
    if index is not None:
        item["Index"] = int(index)
    return item


def _touch_conversation(
    ctx: Any, sid: str, sent_at: str, sent_time: datetime, preview: str
) -> None:
    """Make the sent message the conversation's latest (unless a newer one is) and
    announce the change."""

    def touch(c: dict[str, Any]) -> dict[str, Any] | None:
        last = _parse_time(c.get("LastMessageAt"))
        if last is not None and last > sent_time:
            return None  # a newer message is already the conversation's latest
        updates = {"LastMessageAt": sent_at, "LastMessagePreview": preview, "UnreadCount": 0}
        if all(c.get(k) == v for k, v in updates.items()):
            return None
        return updates

    conv_item = conversation_store.update_conversation(ctx.tables, sid, touch)
    if conv_item is not None:
        for loc in conversation_store.conversation_locations(conv_item):
            publish(
                ctx.change_log,
                loc,
                "conversation",
                sid,
                int(conv_item.get("Version", 0)),
                conversation_store.conversation_view(conv_item, loc),
            )


def _touch_leads(
    ctx: Any, leads: list[dict[str, Any]], line: str, sent_at: str, sent_time: datetime
) -> None:
    """Record the send in each open lead's activity (and pipeline) and announce it."""
    for lead in leads:
        if lead.get("Status") == "CLOSED":
            continue
        try:
            lead_item = lead_store.update_lead(
                ctx.tables,
                str(lead["LeadId"]),
                lambda item: _lead_send_updates(item, line, sent_at, sent_time),
            )
        except versioned.NotFound:
            continue
        if lead_item is not None:
            publish(
                ctx.change_log,
                lead_store.lead_location(lead_item),
                "lead",
                str(lead_item["LeadId"]),
                int(lead_item.get("Version", 0)),
                lead_store.lead_view(lead_item),
            )


def _lead_send_updates(
    lead_item: dict[str, Any], line: str, sent_at: str, sent_time: datetime
) -> dict[str, Any] | None:
    history = list(lead_item.get("Activity") or [])
    if any(
        a.get("kind") == "outbound" and a.get("at") == sent_at and a.get("text") == line
        for a in history
        if isinstance(a, dict)
    ):
        return None  # this message's effects are already there
    current = PipelineStatus(str(lead_item.get("PipelineStatus", "new")))
    nxt = auto_advance(current, PipelineTrigger.OUTBOUND_MESSAGE)
    history.append(lead_store.activity("outbound", line, sent_at))
    if nxt != current:
        history.append(lead_store.activity("pipeline", f"{current.value} → {nxt.value}", sent_at))
    updates: dict[str, Any] = {
        "Activity": lead_store.bounded_activity(history),
        "PipelineStatus": nxt.value,
    }
    last_activity = _parse_time(lead_item.get("LastActivityAt"))
    if last_activity is None or last_activity < sent_time:
        updates["LastActivityAt"] = sent_at
    if not lead_item.get("FirstStaffReplyAt"):
        updates["FirstStaffReplyAt"] = sent_at
    return updates


#: Exceptions of a Twilio call that `failure_answer` turns into an answer.
TWILIO_ERRORS: tuple[type[Exception], ...] = (
    TwilioException,  # TwilioRestException and the SDK's own (e.g. an unreadable page)
    requests.exceptions.RequestException,
)


failure_answer = _twilio_failure

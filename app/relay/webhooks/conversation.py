"""`POST /TwilioWebhooks/sync`: conversation-scoped events. A new message is stored
(deduplicated by its MessageSid) and its effects applied (`effects.py`); delivery
receipts move a message's status forward only; edits and removals update it."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.relay import after_hours, conversation_store, message_store, versioned
from app.relay.connectors.triggers import note_for_connectors
from app.relay.context import context_of
from app.relay.feed import batched
from app.relay.integrations import publish_message
from app.relay.media import parse_webhook_media, remember_message_media
from app.relay.versioned import Item, Updates
from app.relay.webhooks.effects import apply_message_effects, effects_owed
from app.relay.webhooks.signed import attrs, remember, seen, signed_form

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.webhooks")
router = APIRouter()


@router.post("/sync")
async def sync_webhook(request: Request) -> Response:
    form = await signed_form(request)
    ctx = context_of(request)
    await run_in_threadpool(handle_sync_event, ctx, form)
    return Response(status_code=200)


def event_key(form: dict[str, str]) -> str | None:
    event = form.get("EventType", "")
    if event == "onDeliveryUpdated":
        return f"receipt:{form.get('DeliveryReceiptSid')}:{form.get('Status')}"
    if event == "onMessageAdded":
        return f"added:{form.get('MessageSid')}"
    if event == "onMessageUpdated":
        stamp = f"{form.get('DateUpdated', '')}:{form.get('Body', '')[:40]}"
        return f"updated:{form.get('MessageSid')}:{stamp}"
    if event == "onMessageRemoved":
        return f"removed:{form.get('MessageSid')}"
    if event == "onConversationStateUpdated":
        state = f"{form.get('StateTo')}:{form.get('StateUpdated', '')}"
        return f"state:{form.get('ConversationSid')}:{state}"
    return None


def handle_sync_event(ctx: RelayContext, form: dict[str, str]) -> None:
    key = event_key(form)
    if key is None:
        return  # an event we do not subscribe to: acknowledge
    event = form.get("EventType")
    # A new message is deduplicated by the message item itself (a conditional put on
    # its MessageSid, stored before the 2xx): no event record to read or write.
    by_item = event == "onMessageAdded"
    if not by_item and seen(ctx, key):
        return
    sid = form.get("ConversationSid", "")
    if not sid:
        conv = None
    elif by_item:
        # a new message needs only what never changes (customer, Web2Text number,
        # location) before its own write; the rest comes fresh from that write
        conv = conversation_store.recent_conversation(ctx.caches.conversations, ctx.tables, sid)
    else:
        conv = conversation_store.get_conversation(ctx.tables, sid)
    if conv is not None:
        if event == "onMessageAdded":
            message_added(ctx, conv, form)
        elif event == "onDeliveryUpdated":
            delivery_updated(ctx, conv, form)
        elif event == "onMessageUpdated":
            _message_updated(ctx, conv, form)
        elif event == "onMessageRemoved":
            _message_removed(ctx, conv, form)
    else:
        # not one of the relay's conversations (or its record is gone): nothing of
        # ours to change; acknowledged so Twilio stops, and said in the log
        log.warning(
            "webhook for an unknown conversation",
            extra={"reason": "unknown_conversation", "event": event, "conversation": sid},
        )
    if not by_item:
        remember(ctx, key, str(event))


def author_kind(conv: Item, author: str, attrs: dict[str, Any]) -> str:
    if attrs.get("SystemMessage"):
        return "system"
    if attrs.get("StaffId"):
        return "staff"
    if author == conv.get("CustomerPhone"):
        return "customer"
    if author == conv.get("Web2TextNumber"):
        return "store"
    return "staff" if author.startswith("staff") else "system"


def message_added(ctx: RelayContext, conv: Item, form: dict[str, str]) -> None:
    item = _message_item(ctx, conv, form)
    owed = _store_new_message(ctx, conv, item)
    if owed is None:
        return
    ctx.checkpoint("after_message_stored")
    # the message, conversation and lead changes: one counter update + one
    # group item per location instead of two calls each
    with batched(ctx.change_log):
        # published to the locations of the conversation as just written (`conv`
        # may be a cached copy); the batch is one group item per location, so the
        # message, conversation and lead changes are seen together
        fresh = apply_message_effects(ctx, conv, owed)
        publish_message(ctx, fresh, owed)
    note_for_connectors(ctx, owed, fresh)
    if owed.get("AuthorKind") == "customer":
        after_hours.maybe_reply(ctx, fresh)


def _message_item(ctx: RelayContext, conv: Item, form: dict[str, str]) -> Item:
    """The message item the webhook describes (its photos are remembered on the way)."""
    sid = conv["ConversationSid"]
    attributes = attrs(form.get("Attributes"))
    author = form.get("Author", "")
    kind = author_kind(conv, author, attributes)
    body = form.get("Body", "")
    at = form.get("DateCreated") or versioned.now_iso()
    item: Item = {
        "ConversationSid": sid,
        "MessageSid": form.get("MessageSid", ""),
        "Author": author,
        "AuthorKind": kind,
        "Body": body,
        "Status": "delivered" if kind in ("customer", "store") else "sent",
        "LocationId": conv.get("LocationId", ""),
        "CreatedAt": at,
        "Version": 1,
    }
    if form.get("Index", "").isdigit():
        item["Index"] = int(form["Index"])
    media = parse_webhook_media(form.get("Media"))
    if media:
        item["Media"] = media
        remember_message_media(
            ctx.tables,
            media,
            sid,
            conversation_store.conversation_locations(conv),
            item["MessageSid"],
        )
    _copy_attributes(item, attributes)
    # The message's effects on the conversation and its leads are applied after it
    # is stored, each idempotent per MessageSid (`versioned.EFFECTS_ATTR`), so a crash
    # in between is finished by Twilio's retry of the webhook or by the reconcile,
    # applying only what is missing. `EffectsPending` (the time this webhook stored
    # it) marks a message whose effects the relay owes (a message the relay stored
    # from its own API answer carries none).
    item["EffectsPending"] = int(time.time())
    return item


def _copy_attributes(item: Item, attributes: dict[str, Any]) -> None:
    if isinstance(attributes.get("Call"), dict):
        item["Call"] = attributes["Call"]  # a phone call's outcome (webhooks/voice.py)
    if attributes.get("W2TKey"):
        item["IdempotencyKey"] = str(attributes["W2TKey"])
    if attributes.get("StaffId"):
        item["StaffId"] = str(attributes["StaffId"])
        item["StaffName"] = str(attributes.get("StaffName") or attributes["StaffId"])


def _store_new_message(ctx: RelayContext, conv: Item, item: Item) -> Item | None:
    """Store the message once; the message whose effects are owed, None if none are."""
    if message_store.put_message_if_new(ctx.tables, item):
        return item
    existing = message_store.get_message(ctx.tables, conv["ConversationSid"], item["MessageSid"])
    if existing is None:
        return None
    if existing.get("Placeholder"):
        return _fill_placeholder(ctx, existing, item) or existing
    if effects_owed(existing):
        # a redelivery (or the reconcile): apply whatever the first delivery
        # did not (nothing, usually); concurrent deliveries apply each once
        return existing
    if "EffectsPending" not in existing:
        # stored from the relay's own API answer (a greeting, a staff text):
        # this is its webhook, and the connectors may note it now
        note_for_connectors(ctx, existing, conv)
    # otherwise a duplicate of a message whose effects are long done
    return None


def _fill_placeholder(ctx: RelayContext, existing: Item, item: Item) -> Item | None:
    def fn(cur: Item) -> Updates | None:
        if not cur.get("Placeholder"):
            return None
        updates = {
            k: v
            for k, v in item.items()
            if k not in ("Status", "Version", "ConversationSid", "MessageSid")
        }
        updates["Placeholder"] = None
        return updates

    return message_store.update_message(
        ctx.tables, existing["ConversationSid"], existing["MessageSid"], fn
    )


def delivery_updated(ctx: RelayContext, conv: Item, form: dict[str, str]) -> None:
    sid = conv["ConversationSid"]
    msg_sid = form.get("MessageSid", "")
    status = form.get("Status", "")
    code = int(form["ErrorCode"]) if form.get("ErrorCode", "").isdigit() else None
    updated = message_store.advance_message_status(
        ctx.tables, sid, msg_sid, status, error_code=code, error_reason=_error_reason(code)
    )
    if updated is None and message_store.get_message(ctx.tables, sid, msg_sid) is None:
        # The receipt overtook the message: keep the status on a placeholder that
        # the message (webhook or API answer) fills in later.
        placeholder = {
            "ConversationSid": sid,
            "MessageSid": msg_sid,
            "Placeholder": True,
            "Status": "queued",
            "LocationId": conv.get("LocationId", ""),
            "Body": "",
            "AuthorKind": "system",
            "Author": "",
            "Version": 1,
        }
        message_store.put_message_if_new(ctx.tables, placeholder)
        updated = message_store.advance_message_status(
            ctx.tables, sid, msg_sid, status, error_code=code, error_reason=_error_reason(code)
        )
    if updated is not None and not updated.get("Placeholder"):
        publish_message(ctx, conv, updated)


def _error_reason(code: int | None) -> str | None:
    return {
        21610: "recipient_opted_out",
        30003: "unreachable",
        30005: "unknown_destination",
        30006: "landline_or_unreachable_carrier",
        30007: "carrier_filtered",
    }.get(code or 0)


def _message_updated(ctx: RelayContext, conv: Item, form: dict[str, str]) -> None:
    sid, msg_sid = conv["ConversationSid"], form.get("MessageSid", "")
    body = form.get("Body")
    if body is None:
        return
    try:
        updated = message_store.update_message(
            ctx.tables,
            sid,
            msg_sid,
            lambda cur: None if cur.get("Body") == body else {"Body": body},
        )
    except versioned.NotFound:
        log.warning("edit of an unknown message", extra={"reason": "unknown_message"})
        return
    if updated is not None:
        publish_message(ctx, conv, updated)


def _message_removed(ctx: RelayContext, conv: Item, form: dict[str, str]) -> None:
    sid, msg_sid = conv["ConversationSid"], form.get("MessageSid", "")
    try:
        updated = message_store.update_message(
            ctx.tables,
            sid,
            msg_sid,
            lambda cur: None if cur.get("Removed") else {"Removed": True, "Body": ""},
        )
    except versioned.NotFound:
        log.warning("removal of an unknown message", extra={"reason": "unknown_message"})
        return
    if updated is not None:
        publish_message(ctx, conv, updated)

"""Twilio webhooks (compatible paths).

- `POST /TwilioWebhooks/sync`: conversation-scoped events (messages, receipts).
- `POST /TwilioWebhooks/close`: onConversationStateUpdated; closes the leads only
  when `StateTo` is `closed`.
- `POST /TwilioWebhooks/onIncomingMessage`: the Messaging Service's inbound
  webhook; `OptOutType` STOP/START drives `OptedOutNumbers` (`app.relay.optouts`,
  in the order Twilio received them: a replay changes nothing).
- `POST /TwilioWebhooks/checkOptInStatus`: API key, JSON `{"PhoneNumber"}`.

Signed webhooks must carry a valid `X-Twilio-Signature` for W2T_PUBLIC_URL +
path (403 `invalid_signature` otherwise). Everything an event changes is written
before the 2xx; an event already handled (same MessageSid, same
DeliveryReceiptSid+Status, ...) is acknowledged without effect, and statuses
only move forward, so duplicates and reordering are harmless.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any
from urllib.parse import parse_qsl

from botocore.exceptions import ClientError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.optout import OptOutKind, classify
from app.core.statuses import LeadStatus, PipelineStatus, PipelineTrigger, auto_advance
from app.relay import (
    consent_log,
    conversation_store,
    directory,
    lead_store,
    message_store,
    optouts,
    versioned,
)
from app.relay.auth import Principal, require_endpoint
from app.relay.connectors.triggers import note_for_connectors
from app.relay.context import RelayContext, context_of
from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.feed import batched
from app.relay.integrations import _publish_conversation, publish_message
from app.relay.twilio_close import mark_conversation_closed
from app.relay.versioned import Item, Updates

log = logging.getLogger("app.relay.webhooks")
router = APIRouter(prefix="/TwilioWebhooks", tags=["twilio"])

EVENT_TTL_S = 7 * 24 * 3600
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
STOP_CLOSE_REASON = "Participant opted out of text messaging"


async def _signed_form(request: Request) -> dict[str, str]:
    """The form of a Twilio webhook whose signature is valid (else 403)."""
    ctx = context_of(request)
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        pairs = []
    form: dict[str, str] = {}
    for k, v in pairs:
        form.setdefault(k, v)
    url = ctx.settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    validator = ctx.webhook_validator
    if not signature or not validator.validate(url, _SignedParams(form), signature):
        log.warning("webhook with a bad signature", extra={"path": request.url.path})
        raise ApiError(403, "invalid_signature", "X-Twilio-Signature is INVALID")
    # These values become DynamoDB keys (never empty, at most 1024/2048 bytes): refuse
    # what cannot be one with a 400 instead of failing the write with a 500.
    for name in _KEY_FIELDS:
        if len(form.get(name, "")) > 256:
            raise ApiError(400, "invalid_request", f"{name} is INVALID - over 256 characters")
    if form.get("EventType") in _MESSAGE_EVENTS and not form.get("MessageSid"):
        raise ApiError(400, "invalid_request", "MessageSid is NONEXISTANT - required")
    return form


class _SignedParams(dict[str, str]):
    """A webhook's form for the twilio validator, with the `getall` it asks for first.

    Given a plain dict, the validator tries `getall` and then `getlist` on it and
    catches two AttributeErrors per field, for each of the two signatures it
    computes (with and without the port): half its time on a webhook. The values
    it reads are the same (one per name, as in `form`).
    """

    def getall(self, name: str) -> list[str]:
        return [self[name]]


_KEY_FIELDS: tuple[str, ...] = ("ConversationSid", "MessageSid", "SmsSid", "DeliveryReceiptSid")
_KEY_FIELDS += ("From", "To", "Status", "StateTo", "StateUpdated", "DateUpdated")
_MESSAGE_EVENTS = ("onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onDeliveryUpdated")


def _seen(ctx: RelayContext, key: str) -> bool:
    item = ctx.tables.events.get_item(Key={"EventKey": key}, ConsistentRead=True).get("Item")
    return item is not None


def _remember(ctx: RelayContext, key: str, kind: str) -> None:
    try:
        ctx.tables.events.put_item(
            Item={
                "EventKey": key,
                "Kind": kind,
                "At": versioned.now_iso(),
                "ExpiresAt": int(time.time()) + EVENT_TTL_S,
            },
            ConditionExpression="attribute_not_exists(EventKey)",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def _attrs(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _publish_lead(ctx: RelayContext, item: Item | None) -> None:
    if item is not None:
        ctx.leads._publish_lead(item)


# --------------------------------------------------------------------------- sync


@router.post("/sync")
async def sync_webhook(request: Request) -> Response:
    form = await _signed_form(request)
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
    if not by_item and _seen(ctx, key):
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
            _message_added(ctx, conv, form)
        elif event == "onDeliveryUpdated":
            _delivery_updated(ctx, conv, form)
        elif event == "onMessageUpdated":
            _message_updated(ctx, conv, form)
        elif event == "onMessageRemoved":
            _message_removed(ctx, conv, form)
    if not by_item:
        _remember(ctx, key, str(event))


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


def _message_added(ctx: RelayContext, conv: Item, form: dict[str, str]) -> None:
    sid = conv["ConversationSid"]
    attrs = _attrs(form.get("Attributes"))
    author = form.get("Author", "")
    kind = author_kind(conv, author, attrs)
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
    if attrs.get("W2TKey"):
        item["IdempotencyKey"] = str(attrs["W2TKey"])
    if attrs.get("StaffId"):
        item["StaffId"] = str(attrs["StaffId"])
        item["StaffName"] = str(attrs.get("StaffName") or attrs["StaffId"])
    # The message's effects on the conversation and its leads are applied after it
    # is stored, each idempotent per MessageSid (`versioned.EFFECTS_ATTR`), so a crash
    # in between is finished by Twilio's retry of the webhook or by the reconcile,
    # applying only what is missing. `EffectsPending` (the time this webhook stored
    # it) marks a message whose effects the relay owes (a message the relay stored
    # from its own API answer carries none).
    item["EffectsPending"] = int(time.time())
    if not message_store.put_message_if_new(ctx.tables, item):
        existing = message_store.get_message(ctx.tables, sid, item["MessageSid"])
        if existing is None:
            return
        if existing.get("Placeholder"):
            item = _fill_placeholder(ctx, existing, item) or existing
        elif effects_owed(existing):
            # a redelivery (or the reconcile): apply whatever the first delivery
            # did not (nothing, usually); concurrent deliveries apply each once
            item = existing
        elif "EffectsPending" not in existing:
            # stored from the relay's own API answer (a greeting, a staff text):
            # this is its webhook, and the connectors may note it now
            note_for_connectors(ctx, existing, conv)
            return
        else:
            return  # a duplicate of a message whose effects are long done
    ctx.checkpoint("after_message_stored")
    # the message, conversation and lead changes: one counter update + one
    # group item per location instead of two calls each
    with batched(ctx.change_log):
        # published to the locations of the conversation as just written (`conv`
        # may be a cached copy); the batch is one group item per location, so the
        # message, conversation and lead changes are seen together
        fresh = _apply_message_effects(ctx, conv, item)
        publish_message(ctx, fresh, item)
    note_for_connectors(ctx, item, fresh)


#: a reconcile leaves a message this young to the webhook that is storing it
EFFECTS_LEASE_S = 30
#: how long after it was stored a message's effects are still checked for and
#: completed on a redelivery or by the reconcile (Twilio retries within minutes;
#: the reconcile runs every W2T_RECONCILE_INTERVAL, 5 min)
EFFECTS_RECOVERY_S = 3600


def effects_owed(msg: Item, *, min_age_s: float = 0.0) -> bool:
    """Whether `msg` was stored by a webhook (so it has effects) recently enough
    that they may still be incomplete and can be completed idempotently."""
    pending = msg.get("EffectsPending")
    if pending is None:
        return False
    age = time.time() - float(pending)
    return min_age_s <= age <= EFFECTS_RECOVERY_S


def effects_stale(msg: Item) -> bool:
    """A message the reconcile may finish: owed effects, older than the lease."""
    return effects_owed(msg, min_age_s=EFFECTS_LEASE_S)


def effects_missing(
    ctx: RelayContext, conv: Item, msg: Item, leads: dict[str, Item | None]
) -> bool:
    """Whether a stored message's effects are missing from its conversation or one of
    its open leads (`leads`: a per-conversation cache of lead reads)."""
    sid = str(msg["MessageSid"])
    if sid not in (conv.get(versioned.EFFECTS_ATTR) or []):
        return True
    if msg.get("AuthorKind") not in ("customer", "store", "staff"):
        return False
    created = str(msg.get("CreatedAt") or "")
    for lead_id in [str(x) for x in conv.get("LeadIds") or []]:
        if lead_id not in leads:
            leads[lead_id] = lead_store.get_lead(ctx.tables, lead_id)
        lead = leads[lead_id]
        if lead is None or lead.get("Status") == LeadStatus.CLOSED:
            continue
        if str(lead.get("DateSubmitted") or "") > created:
            continue  # the lead joined after this message
        if sid not in (lead.get(versioned.EFFECTS_ATTR) or []):
            return True
    return False


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


def _apply_message_effects(ctx: RelayContext, conv: Item, msg: Item) -> Item:
    """Conversation and lead updates for a new message (customer text, store reply...),
    each applied at most once per MessageSid; returns the conversation as it is.

    An effect found already applied (a redelivery after a crash, or a DynamoDB call
    retried after it had succeeded) is published again, since a crash before the
    change batch was recorded would have lost its change and receivers ignore
    versions they have; a lead's pipeline move, forward-only, is finished too."""
    kind = msg.get("AuthorKind")
    at = str(msg.get("CreatedAt") or versioned.now_iso())
    preview = str(msg.get("Body", ""))[:120]
    msg_sid = str(msg["MessageSid"])

    # Nothing here depends on the current item (the unread count is an ADD), so one
    # UpdateItem without a read; it bumps Version like every other update.
    sets: Updates = {"LastMessageAt": at, "LastMessagePreview": preview}
    adds: dict[str, int] = {}
    if kind == "customer":
        adds["UnreadCount"] = 1
        sets["LastInboundAt"] = at
    try:
        updated = conversation_store.bump_conversation(
            ctx.tables,
            conv["ConversationSid"],
            sets,
            adds,
            message_sid=msg_sid,
            recent=ctx.caches.conversations,
        )
        _publish_conversation(ctx, updated)
    except versioned.AlreadyApplied as done:
        updated = done.item
        _publish_conversation(ctx, updated)
    ctx.checkpoint("after_conversation_effect")
    if kind not in ("customer", "store", "staff"):
        return updated
    possible = (
        kind == "customer" and classify(str(msg.get("Body", ""))) is OptOutKind.POSSIBLE_OPT_OUT
    )
    trigger = (
        PipelineTrigger.INBOUND_MESSAGE if kind == "customer" else PipelineTrigger.OUTBOUND_MESSAGE
    )
    for lead_id in list(updated.get("LeadIds") or []):
        # One UpdateItem without a read (`lead_store.note_lead_message`): the activity is
        # appended and the times set whatever the lead held; only a pipeline move
        # (the first reply, once per lead) needs a version-guarded read-modify-write.
        lead_sets: Updates = {"LastActivityAt": at}
        if_missing: Updates = {}
        if kind == "customer":
            lead_sets["LastInboundAt"] = at
            if possible:
                lead_sets["PossibleOptOut"] = True
            entry = lead_store.activity("inbound", preview, at)
        else:
            if_missing["FirstStaffReplyAt"] = at
            entry = lead_store.activity("outbound", preview, at)
        lead = lead_store.note_lead_message(
            ctx.tables,
            str(lead_id),
            entry,
            lead_sets,
            set_if_missing=if_missing,
            message_sid=msg_sid,
        )
        if lead is None:
            # closed, missing, or this message already noted: then its pipeline
            # move may be what a crash left out (or what the first attempt of a
            # retried call never got to), and its change may never have been written
            lead = lead_store.get_lead(ctx.tables, str(lead_id))
            if lead is None or lead.get("Status") == LeadStatus.CLOSED:
                continue
        current = PipelineStatus(str(lead.get("PipelineStatus", "new")))
        if auto_advance(current, trigger) != current:

            def advance(cur: Item) -> Updates | None:
                if cur.get("Status") == LeadStatus.CLOSED:
                    return None
                now = PipelineStatus(str(cur.get("PipelineStatus", "new")))
                nxt = auto_advance(now, trigger)
                if nxt == now:
                    return None
                note = lead_store.activity("pipeline", f"{now.value} → {nxt.value}", at)
                activity = [*list(cur.get("Activity") or []), note]
                return {
                    "PipelineStatus": nxt.value,
                    "Activity": lead_store.bounded_activity(activity),
                }

            try:
                moved = lead_store.update_lead(ctx.tables, str(lead_id), advance)
            except versioned.NotFound:
                continue
            if moved is not None:
                lead = moved
        _publish_lead(ctx, lead)
    return updated


def _delivery_updated(ctx: RelayContext, conv: Item, form: dict[str, str]) -> None:
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
        return
    if updated is not None:
        publish_message(ctx, conv, updated)


# --------------------------------------------------------------------------- close


@router.post("/close")
async def close_webhook(request: Request) -> Response:
    form = await _signed_form(request)
    ctx = context_of(request)
    await run_in_threadpool(handle_state_event, ctx, form)
    return Response(status_code=200)


def handle_state_event(ctx: RelayContext, form: dict[str, str]) -> None:
    if form.get("EventType", "onConversationStateUpdated") != "onConversationStateUpdated":
        return
    key = event_key(dict(form, EventType="onConversationStateUpdated"))
    assert key is not None
    if _seen(ctx, key):
        return
    sid = form.get("ConversationSid", "")
    state_to = form.get("StateTo", "")
    conv = conversation_store.get_conversation(ctx.tables, sid) if sid else None
    if conv is not None and state_to in ("active", "inactive"):
        updated = conversation_store.update_conversation(
            ctx.tables,
            sid,
            lambda cur: None if cur.get("State") in (state_to, "closed") else {"State": state_to},
        )
        if updated is not None:
            _publish_conversation(ctx, updated)
    elif conv is not None and state_to == "closed":
        # every close recorded first, then run (a lead another request is working on
        # is closed by that request's holder when its current step ends)
        ctx.leads.close_owed([str(x) for x in conv.get("LeadIds") or []], "Inactivity")
        mark_conversation_closed(ctx, conversation_store.get_conversation(ctx.tables, sid) or conv)
    _remember(ctx, key, "state")


# --------------------------------------------------------------------------- inbound


@router.post("/onIncomingMessage")
async def incoming_webhook(request: Request) -> Response:
    form = await _signed_form(request)
    ctx = context_of(request)
    await run_in_threadpool(handle_incoming, ctx, form)
    return Response(TWIML_EMPTY, media_type="text/xml")


def handle_incoming(ctx: RelayContext, form: dict[str, str]) -> None:
    kind = (form.get("OptOutType") or "").upper()
    if kind not in ("STOP", "START"):
        return  # ordinary texts arrive through the conversation's own webhook
    key = f"inbound:{form.get('MessageSid') or form.get('SmsSid')}:{kind}"
    if _seen(ctx, key):
        return
    sender, pool_number = form.get("From", ""), form.get("To", "")
    if not sender or not pool_number:
        return
    # applied only when newer than the state (a replay after its dedupe record
    # expired changes nothing): app.relay.optouts
    message_sid = form.get("MessageSid") or form.get("SmsSid") or ""
    at = optouts.received_at(ctx, message_sid)
    if at is None:
        log.warning("opt-out text unknown to Twilio: ignored", extra={"kind": kind})
        _remember(ctx, key, "inbound")
        return
    text = form.get("Body", kind)
    # the history the export reads: every STOP/START Twilio received, in its order
    consent_log.record_inbound(ctx.tables, form, kind, at=at)
    if not optouts.apply_event(ctx, sender, pool_number, kind, at, message_sid, text):
        _remember(ctx, key, "inbound")
        return
    is_store = bool(directory.locations_with_number(ctx.tables, sender))
    for conv in _conversations_bound(ctx, sender, pool_number):
        opted = kind == "STOP"
        field = "StoreOptedOut" if is_store else "OptedOut"

        def flag(cur: Item, f: str = field, o: bool = opted) -> Updates | None:
            return None if bool(cur.get(f)) == o else {f: o}

        updated = conversation_store.update_conversation(ctx.tables, conv["ConversationSid"], flag)
        if updated is not None:
            _publish_conversation(ctx, updated)
        if opted and not is_store:
            svc = ctx.leads
            for lead_id in list(conv.get("LeadIds") or []):
                _publish_lead(
                    ctx,
                    lead_store.update_lead(
                        ctx.tables,
                        str(lead_id),
                        lambda cur: None if cur.get("OptedOut") else {"OptedOut": True},
                    ),
                )
                svc.close_owed([str(lead_id)], STOP_CLOSE_REASON)
        elif opted and is_store:
            _warn_store(ctx, conv)
    _remember(ctx, key, "inbound")


def _warn_store(ctx: RelayContext, conv: Item) -> None:
    """The store's phone replied STOP: it no longer gets this conversation's texts.
    Its leads stay open; staff see a warning (and the store is told in the app)."""
    from app.relay.integrations import record_api_message

    class _Local:
        sid = f"W2T-warn-{conv['ConversationSid']}-{int(time.time())}"
        index = None
        author = "system"
        body = (
            "Warning: the store's phone opted out of texts from this conversation's number "
            "(STOP). Reply START from the store's phone, or answer from the desktop app."
        )

    record_api_message(ctx, conv["ConversationSid"], _Local, author_kind="system")
    log.warning("store phone opted out", extra={"conversation": conv["ConversationSid"]})


def _conversations_bound(ctx: RelayContext, address: str, proxy: str) -> list[Item]:
    item = ctx.tables.pool.get_item(
        Key={"Pk": f"BIND#{address}", "Sk": proxy}, ConsistentRead=True
    ).get("Item")
    if not item:
        return []
    conv = conversation_store.get_conversation(ctx.tables, str(item["ConversationSid"]))
    return [conv] if conv else []


# --------------------------------------------------------------------------- opt-in status

OptInKey = Annotated[Principal, Depends(require_endpoint("TwilioWebhooks/getOptInNumber"))]


@router.post("/checkOptInStatus")
async def check_opt_in_status(request: Request, principal: OptInKey) -> JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise ApiError(400, "invalid_request", "Body is INVALID - not valid JSON") from None
    if not isinstance(body, dict) or "PhoneNumber" not in body:
        raise ApiError(400, "invalid_request", "PhoneNumber is NONEXISTANT - required")
    from app.core.phones import PhoneError, parse_phone

    value = body["PhoneNumber"]
    try:
        phone = parse_phone(value) if isinstance(value, str) else parse_phone("")
    except PhoneError:
        raise ApiError(
            400, "invalid_phone", "PhoneNumber is INVALID - not a valid phone number"
        ) from None
    ctx = context_of(request)
    from app.relay.leads import opted_out_numbers

    numbers = await run_in_threadpool(opted_out_numbers, ctx.tables, phone)
    if not numbers:
        return JSONResponse({"Status": "OPTED-IN"})
    return JSONResponse({"Status": "OPTED-OUT", "OptInNumbers": sorted(numbers)})

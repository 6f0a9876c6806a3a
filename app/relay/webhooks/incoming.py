"""`POST /TwilioWebhooks/onIncomingMessage`: the Messaging Service's inbound webhook,
for every text to a pool number. `OptOutType` STOP/START drive `OptedOutNumbers` and
the conversations' opt-out flags (a customer's STOP closes their leads; a store's STOP
warns staff); every other text is recorded and routed (`app.relay.inbound`). The answer
is always empty TwiML: a reply owed to the sender is recorded and sent with the
Messages API (`app.relay.inbound.notices`), so a lost answer loses no reply."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.relay import consent_log, conversation_store, directory, lead_store, optouts
from app.relay.context import context_of
from app.relay.errors import ApiError
from app.relay.inbound import routing
from app.relay.integrations import _publish_conversation
from app.relay.versioned import Item, Updates
from app.relay.webhooks.signed import TWIML_EMPTY, publish_lead, remember, seen, signed_form

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.webhooks")
router = APIRouter()

STOP_CLOSE_REASON = "Participant opted out of text messaging"


@router.post("/onIncomingMessage")
async def incoming_webhook(request: Request) -> Response:
    form = await signed_form(request)
    if not form.get("From") or not form.get("To"):
        raise ApiError(400, "invalid_request", "From and To are NONEXISTANT - required")
    if not (form.get("MessageSid") or form.get("SmsSid")):
        raise ApiError(400, "invalid_request", "MessageSid is NONEXISTANT - required")
    ctx = context_of(request)
    await run_in_threadpool(handle_incoming, ctx, form)
    return Response(TWIML_EMPTY, media_type="text/xml")


def handle_incoming(ctx: RelayContext, form: dict[str, str]) -> None:
    """Every text to a pool number: an opt-out keyword changes the opt-out records;
    any other text is recorded and routed (`app.relay.inbound.routing`)."""
    kind = (form.get("OptOutType") or "").upper()
    if kind not in ("STOP", "START"):
        routing.handle_text(ctx, form)
        return
    key = f"inbound:{form.get('MessageSid') or form.get('SmsSid')}:{kind}"
    if seen(ctx, key):
        return
    sender, pool_number = form.get("From", ""), form.get("To", "")
    # applied only when newer than the state (a replay after its dedupe record
    # expired changes nothing): app.relay.optouts
    message_sid = form.get("MessageSid") or form.get("SmsSid") or ""
    at = optouts.received_at(ctx, message_sid)
    if at is None:
        log.warning("opt-out text unknown to Twilio: ignored", extra={"kind": kind})
        remember(ctx, key, "inbound")
        return
    # the history the export reads: every STOP/START Twilio received, in its order
    consent_log.record_inbound(ctx.tables, form, kind, at=at)
    if optouts.apply_event(
        ctx, sender, pool_number, kind, at, message_sid, form.get("Body", kind)
    ):
        _apply_keyword(ctx, kind, sender, pool_number)
    remember(ctx, key, "inbound")


def _apply_keyword(ctx: RelayContext, kind: str, sender: str, pool_number: str) -> None:
    """The conversations' flags after an applied STOP/START (the opt-out record is
    written by `optouts.apply_event`)."""
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
            for lead_id in list(conv.get("LeadIds") or []):
                publish_lead(
                    ctx,
                    lead_store.update_lead(
                        ctx.tables,
                        str(lead_id),
                        lambda cur: None if cur.get("OptedOut") else {"OptedOut": True},
                    ),
                )
                ctx.leads.close_owed([str(lead_id)], STOP_CLOSE_REASON)
        elif opted and is_store:
            _warn_store(ctx, conv)


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

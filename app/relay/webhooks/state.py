"""`POST /TwilioWebhooks/close`: onConversationStateUpdated. Only `StateTo=closed`
closes the conversation's leads ("Inactivity"); inactive/active are recorded."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.relay import conversation_store
from app.relay.context import context_of
from app.relay.integrations import _publish_conversation
from app.relay.twilio_close import mark_conversation_closed
from app.relay.webhooks.conversation import event_key
from app.relay.webhooks.signed import remember, seen, signed_form

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.webhooks")
router = APIRouter()


@router.post("/close")
async def close_webhook(request: Request) -> Response:
    form = await signed_form(request)
    ctx = context_of(request)
    await run_in_threadpool(handle_state_event, ctx, form)
    return Response(status_code=200)


def handle_state_event(ctx: RelayContext, form: dict[str, str]) -> None:
    if form.get("EventType", "onConversationStateUpdated") != "onConversationStateUpdated":
        return
    key = event_key(dict(form, EventType="onConversationStateUpdated"))
    assert key is not None
    if seen(ctx, key):
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
    elif conv is None:
        log.warning(
            "state webhook for an unknown conversation",
            extra={"reason": "unknown_conversation", "conversation": sid, "state": state_to},
        )
    remember(ctx, key, "state")

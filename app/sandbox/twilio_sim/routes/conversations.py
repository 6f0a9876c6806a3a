"""Conversations v1: /v1/Conversations, /v1/ConversationWithParticipants and
/v1/ParticipantConversations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.sandbox.twilio_sim import views
from app.sandbox.twilio_sim.routes.common import (
    TwilioForm,
    base_url,
    page_of,
    runtime,
    webhook_header,
)

router = APIRouter()


@router.post("/v1/Conversations", status_code=201)
async def create_conversation(request: Request, form: TwilioForm) -> dict[str, Any]:
    conv = runtime(request).state.create_conversation(form, webhook_header(request))
    return views.conversation(conv, base_url(request))


@router.post("/v1/ConversationWithParticipants", status_code=201)
async def create_conversation_with_participants(
    request: Request, form: TwilioForm
) -> dict[str, Any]:
    state = runtime(request).state
    with state.lock:
        conv = state.create_conversation_with_participants(form, webhook_header(request))
        return views.conversation(conv, base_url(request))


@router.get("/v1/Conversations")
async def list_conversations(request: Request, form: TwilioForm) -> dict[str, Any]:
    state = runtime(request).state
    wanted = request.query_params.get("State")
    with state.lock:
        items = [views.conversation(c, base_url(request)) for c in state.list_conversations(wanted)]
    extra = {"State": wanted} if wanted else None
    return page_of(request, items, "conversations", extra)


@router.get("/v1/Conversations/{sid}")
async def fetch_conversation(sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    state = runtime(request).state
    with state.lock:
        return views.conversation(state.get_conversation(sid), base_url(request))


@router.post("/v1/Conversations/{sid}")
async def update_conversation(sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    state = runtime(request).state
    with state.lock:
        conv = state.update_conversation(sid, form, webhook_header(request))
        return views.conversation(conv, base_url(request))


@router.delete("/v1/Conversations/{sid}", status_code=204)
async def delete_conversation(sid: str, request: Request, form: TwilioForm) -> Response:
    runtime(request).state.delete_conversation(sid, webhook_header(request))
    return Response(status_code=204)


@router.get("/v1/ParticipantConversations")
async def participant_conversations(request: Request, form: TwilioForm) -> dict[str, Any]:
    state = runtime(request).state
    address = request.query_params.get("Address")
    identity = request.query_params.get("Identity")
    with state.lock:
        items = [
            views.participant_conversation(c, p, base_url(request))
            for c, p in state.participant_conversations(address, identity)
        ]
    extra = {k: v for k, v in (("Address", address), ("Identity", identity)) if v}
    return page_of(request, items, "conversations", extra)

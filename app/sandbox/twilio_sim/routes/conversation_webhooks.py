"""Conversations v1: /v1/Conversations/{sid}/Webhooks (conversation-scoped webhooks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.sandbox.twilio_sim import views
from app.sandbox.twilio_sim.routes.common import TwilioForm, base_url, page_of, runtime

router = APIRouter(prefix="/v1/Conversations/{conversation_sid}/Webhooks")


@router.post("", status_code=201)
async def create_webhook(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        hook = rt.state.add_webhook(conversation_sid, form)
        return views.webhook(hook, rt.config.account_sid, base_url(request))


@router.get("")
async def list_webhooks(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        items = [
            views.webhook(w, rt.config.account_sid, base_url(request))
            for w in rt.state.list_webhooks(conversation_sid)
        ]
    return page_of(request, items, "webhooks")


@router.get("/{sid}")
async def fetch_webhook(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        hook = rt.state.get_webhook(conversation_sid, sid)
        return views.webhook(hook, rt.config.account_sid, base_url(request))


@router.post("/{sid}")
async def update_webhook(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        hook = rt.state.update_webhook(conversation_sid, sid, form)
        return views.webhook(hook, rt.config.account_sid, base_url(request))


@router.delete("/{sid}", status_code=204)
async def delete_webhook(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    runtime(request).state.delete_webhook(conversation_sid, sid)
    return Response(status_code=204)

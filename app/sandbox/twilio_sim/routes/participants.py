"""Conversations v1: /v1/Conversations/{sid}/Participants."""

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

router = APIRouter(prefix="/v1/Conversations/{conversation_sid}/Participants")


@router.post("", status_code=201)
async def create_participant(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    part = rt.state.add_participant(conversation_sid, form, webhook_header(request))
    return views.participant(part, rt.config.account_sid, base_url(request))


@router.get("")
async def list_participants(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        items = [
            views.participant(p, rt.config.account_sid, base_url(request))
            for p in rt.state.list_participants(conversation_sid)
        ]
    return page_of(request, items, "participants")


@router.get("/{sid}")
async def fetch_participant(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        part = rt.state.get_participant(conversation_sid, sid)
        return views.participant(part, rt.config.account_sid, base_url(request))


@router.post("/{sid}")
async def update_participant(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        part = rt.state.update_participant(conversation_sid, sid, form, webhook_header(request))
        return views.participant(part, rt.config.account_sid, base_url(request))


@router.delete("/{sid}", status_code=204)
async def delete_participant(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    runtime(request).state.delete_participant(conversation_sid, sid, webhook_header(request))
    return Response(status_code=204)

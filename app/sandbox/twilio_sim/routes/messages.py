"""Conversations v1: /v1/Conversations/{sid}/Messages and their delivery Receipts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.sandbox.twilio_sim import views
from app.sandbox.twilio_sim.errors import bad_param
from app.sandbox.twilio_sim.routes.common import (
    TwilioForm,
    base_url,
    page_of,
    runtime,
    webhook_header,
)

router = APIRouter(prefix="/v1/Conversations/{conversation_sid}/Messages")


@router.post("", status_code=201)
async def create_message(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        msg = rt.state.add_message(conversation_sid, form, webhook_header(request))
        return views.message(msg, rt.config.account_sid, base_url(request))


@router.get("")
async def list_messages(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    order = request.query_params.get("Order")
    if order is not None and order.lower() not in ("asc", "desc"):
        raise bad_param("Order must be asc or desc")
    with rt.state.lock:
        items = [
            views.message(m, rt.config.account_sid, base_url(request))
            for m in rt.state.list_messages(conversation_sid, order)
        ]
    return page_of(request, items, "messages", {"Order": order} if order else None)


@router.get("/{sid}")
async def fetch_message(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        msg = rt.state.get_message(conversation_sid, sid)
        return views.message(msg, rt.config.account_sid, base_url(request))


@router.post("/{sid}")
async def update_message(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        msg = rt.state.update_message(conversation_sid, sid, form, webhook_header(request))
        return views.message(msg, rt.config.account_sid, base_url(request))


@router.delete("/{sid}", status_code=204)
async def delete_message(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    runtime(request).state.delete_message(conversation_sid, sid, webhook_header(request))
    return Response(status_code=204)


@router.get("/{message_sid}/Receipts")
async def list_receipts(
    conversation_sid: str, message_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        items = [
            views.receipt(r, rt.config.account_sid, base_url(request))
            for r in rt.state.list_receipts(conversation_sid, message_sid)
        ]
    return page_of(request, items, "delivery_receipts")


@router.get("/{message_sid}/Receipts/{sid}")
async def fetch_receipt(
    conversation_sid: str, message_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = runtime(request)
    with rt.state.lock:
        receipt = rt.state.get_receipt(conversation_sid, message_sid, sid)
        return views.receipt(receipt, rt.config.account_sid, base_url(request))

"""Texts for later through the staff API: `POST /v1/conversations/{sid}/messages` with
`"sendAt"` (reached from the send route) and `DELETE /v1/scheduled/{MessageSid}`.

A scheduled text is checked like a send when it is scheduled (closed conversation
409, opt-out 422, the send rates 429), moved to the customer's next allowed moment
when quiet hours forbid its time (the answer says so), and stored once per
Idempotency-Key (a repeat answers the first 202). See `app.relay.scheduled`.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.wire import ErrorBody
from app.core.wire_staff import ScheduledView
from app.relay import conversation_store, scheduled, sends
from app.relay.auth import Principal
from app.relay.context import RelayContext
from app.relay.errors import ApiError
from app.relay.idempotency import Begin, fingerprint, run_idempotent
from app.relay.staff_access import (
    ERRORS,
    ID_RE,
    Staff,
    ctx_of,
    error_response,
    forbidden,
    message_body,
    staff_locations,
    staff_name,
)
from app.relay.staff_limits import check_send_rate
from app.relay.versioned import Item

router = APIRouter(prefix="/v1", tags=["staff"])


def check_schedulable(ctx: RelayContext, conv: Item) -> None:
    """What refuses a text for later at once: the conversation is closed (409) or the
    customer opted out (422 `recipient_opted_out`)."""
    if str(conv.get("State", "active")) == "closed":
        raise ApiError(409, "conversation_closed", "Conversation is closed")
    customer = str(conv.get("CustomerPhone", ""))
    if conv.get("OptedOut") or sends.is_opted_out(ctx.tables, customer, conv.get("CustomerProxy")):
        raise ApiError(422, "recipient_opted_out", "The customer opted out of text messages (STOP)")


async def schedule_send(
    request: Request, staff: Principal, conv: Item, data: dict[str, Any], key: str
) -> JSONResponse:
    """202 with the `ScheduledView` (status "scheduled") of the text for later."""
    ctx = ctx_of(request)
    if data.get("mediaSids"):  # refused, never dropped
        raise ApiError(422, "media_not_schedulable", "A photo cannot be sent later; send it now")
    body = message_body(data)
    raw_at = data.get("sendAt")
    requested = scheduled.parse_send_at(raw_at, datetime.fromtimestamp(ctx.clock(), UTC))
    conv_sid = str(conv["ConversationSid"])
    scope = f"staff:{staff.retailer_id}:{staff.staff_id}:send"

    async def attempt(begin: Begin) -> JSONResponse:
        now = datetime.fromtimestamp(ctx.clock(), UTC)
        try:
            fresh = (
                await run_in_threadpool(conversation_store.get_conversation, ctx.tables, conv_sid)
                or conv
            )
            await run_in_threadpool(check_schedulable, ctx, fresh)
            await run_in_threadpool(check_send_rate, ctx, staff, conv_sid)
        except ApiError as exc:
            return error_response(exc)
        item = await run_in_threadpool(
            functools.partial(
                scheduled.create,
                ctx,
                fresh,
                sid=scheduled.scheduled_sid(scope, key),
                body=body,
                requested=max(requested, now),
                staff_id=staff.staff_id or "",
                staff_name=staff_name(staff),
                key=key,
                now=now,
            )
        )
        return JSONResponse(scheduled.view(item), status_code=202)

    response = await run_idempotent(
        ctx.idempotency,
        scope=scope,
        key=key,
        request_fingerprint=fingerprint(conv_sid, body, "sendAt", str(raw_at)),
        call=attempt,
        remember=lambda status: 200 <= status < 300,
    )
    return response  # type: ignore[return-value]


@router.delete(
    "/scheduled/{sid}",
    response_model=ScheduledView,
    responses={**ERRORS, 409: {"model": ErrorBody}},
)
async def cancel_scheduled(
    request: Request, staff: Staff, sid: Annotated[str, Path(max_length=128)]
) -> JSONResponse:
    """Cancel a text scheduled for later before it goes (a cancelled one answers as is;
    409 `already_sent` once it is being sent)."""
    ctx = ctx_of(request)
    if not ID_RE.match(sid):
        raise ApiError(404, "scheduled_not_found", "No scheduled text with this id")
    item = await run_in_threadpool(scheduled.get, ctx, sid)
    if item is None:
        raise ApiError(404, "scheduled_not_found", "No scheduled text with this id")
    if staff.retailer_id and str(item.get("RetailerId") or staff.retailer_id) != staff.retailer_id:
        raise forbidden()
    locations = set(item.get("LocationIds") or [item.get("LocationId")])
    if not locations & set(staff_locations(request, staff)):
        raise forbidden()
    canceled = await run_in_threadpool(scheduled.cancel, ctx, item)
    return JSONResponse(scheduled.view(canceled))

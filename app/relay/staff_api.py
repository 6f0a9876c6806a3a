"""The staff API (`/v1/...`): what the desktop app talks to.

Every route authenticates a *staff* key (`require_staff`) before reading the
body, and every entity it touches is checked against the key's locations:
403 `forbidden` for an entity of another location or retailer, 404 for an
unknown id. See docs/relay-staff.md.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.wire import (
    ChangesPage,
    ConversationView,
    ErrorBody,
    LeadPatch,
    LeadView,
    LocationView,
    MessageView,
    SendMessageRequest,
    StaffView,
)
from app.relay import (
    conversation_store,
    directory,
    lead_store,
    sends,
    staff_directory,
    staff_media,
    versioned,
)
from app.relay.auth import Principal
from app.relay.bounds import item_too_large, lead_too_large
from app.relay.change_records import DEFAULT_LIMIT, MAX_LIMIT, InvalidCursor
from app.relay.changes import ChangeLog
from app.relay.context import RelayContext, context_of
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.idempotency import (
    Begin,
    BeginState,
    fingerprint,
    run_idempotent,
)
from app.relay.lead_patch import apply_patch, parse_patch
from app.relay.scheduled_api import schedule_send
from app.relay.staff_access import ERRORS, Staff, staff_locations
from app.relay.staff_access import error_response as _error_response
from app.relay.staff_access import forbidden as _forbidden
from app.relay.staff_access import if_match_version as _if_match_version
from app.relay.staff_access import load_conversation as _load_conversation
from app.relay.staff_access import load_lead as _load_lead
from app.relay.staff_access import message_body as _message_body
from app.relay.staff_access import parse_json_object as _parse_json_object
from app.relay.staff_limits import check_send_rate

log = logging.getLogger("app.relay.staff")

#: what the other staff route modules (stream, presence, templates, sync) take from here
__all__ = [
    "ERRORS",
    "Staff",
    "_change_log",
    "_ctx",
    "_error_response",
    "_forbidden",
    "_if_match_version",
    "_load_conversation",
    "_load_lead",
    "_parse_json_object",
    "_visible_locations",
    "router",
    "staff_locations",
]

router = APIRouter(prefix="/v1", tags=["staff"])


def _ctx(request: Request) -> RelayContext:
    return context_of(request)


def _change_log(request: Request) -> ChangeLog:
    return _ctx(request).change_log


# --------------------------------------------------------------------------- /v1/me


@router.get("/me", response_model=StaffView, response_model_by_alias=True, responses=ERRORS)
async def me(request: Request, staff: Staff) -> JSONResponse:
    """The staff member behind the key and the locations it may see."""
    tables = _ctx(request).tables
    ids = staff_locations(request, staff)
    found = await run_in_threadpool(directory.get_locations, tables, ids)
    views: list[LocationView] = []
    for loc in found:
        if staff.retailer_id and loc.retailer_id != staff.retailer_id:
            continue  # a key listing another retailer's location never sees it
        try:
            views.append(LocationView.model_validate(loc.view()))
        except ValueError:
            log.warning("location without a usable Web2Text number", extra={"id": loc.location_id})
    view = StaffView(
        staff_id=staff.staff_id or "",
        name=staff.name or staff.staff_id or "",
        retailer_id=staff.retailer_id or "",
        locations=views,
        min_app_version=_ctx(request).settings.min_app_version,
        latest_app_version=_ctx(request).settings.latest_app_version,
    )
    return JSONResponse(view.to_dict())


# --------------------------------------------------------------------------- change feed


def _visible_locations(request: Request, staff: Principal) -> list[str]:
    return staff_locations(request, staff)


@router.get("/changes", response_model=ChangesPage, response_model_by_alias=True, responses=ERRORS)
async def changes(
    request: Request,
    staff: Staff,
    cursor: Annotated[str | None, Query(max_length=16384)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> JSONResponse:
    """Changes of the key's locations after `cursor` (empty: from the beginning)."""
    log_ = _change_log(request)
    locations = _visible_locations(request, staff)
    try:
        page = await run_in_threadpool(log_.read, locations, cursor, limit)
    except InvalidCursor as exc:
        raise ApiError(exc.status, exc.reason, str(exc)) from None
    return JSONResponse(page.wire())


# --------------------------------------------------------------------------- sends


@router.post(
    "/conversations/{sid}/messages",
    status_code=202,
    response_model=MessageView,
    responses={**ERRORS, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SendMessageRequest.model_json_schema()}},
        }
    },
)
async def send_message(
    request: Request,
    staff: Staff,
    sid: Annotated[str, Path(max_length=128)],
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Send a text to the conversation as the staff member (202 + the MessageView)."""
    ctx = _ctx(request)
    if not idempotency_key or not idempotency_key.strip():
        raise ApiError(
            400, "idempotency_key_required", "Send an Idempotency-Key header with every message"
        )
    conv = await run_in_threadpool(_load_conversation, request, staff, sid)
    raw = await request.body()
    data = _parse_json_object(raw)
    if data.get("sendAt") is not None:  # a text for later (app.relay.scheduled_api)
        return await schedule_send(request, staff, conv, data, idempotency_key.strip())
    media_sid = staff_media.media_sid_of(data)
    body = _message_body(data, allow_empty=media_sid is not None)
    if ctx.twilio is None:
        raise ApiError(503, "upstream_unavailable", "Twilio is not configured")
    send = _StaffSend(
        request=request,
        ctx=ctx,
        sid=sid,
        conv=conv,
        sender=sends.Sender(staff.staff_id or "", staff.name or staff.staff_id or ""),
        body=body,
        media_sid=media_sid,
        key=idempotency_key.strip(),
    )
    response = await run_idempotent(
        ctx.idempotency,
        scope=f"staff:{staff.retailer_id}:{staff.staff_id}:send",
        key=idempotency_key,
        request_fingerprint=fingerprint(sid, body, *([media_sid] if media_sid else [])),
        call=functools.partial(_attempt_send, send, staff),
        # Rejections (closed, opted out, quiet hours) sent nothing: forget them so
        # the desktop's retry with the same key can succeed later.
        remember=lambda status: 200 <= status < 300,
    )
    if response.headers.get("idempotent-replayed"):
        ctx.metrics.send("replayed")
    return response  # type: ignore[return-value]


@dataclass(frozen=True)
class _StaffSend:
    """One validated send request, as the idempotent attempt needs it."""

    request: Request
    ctx: RelayContext
    sid: str
    conv: dict[str, Any]
    sender: sends.Sender
    body: str
    media_sid: str | None
    key: str


async def _attempt_send(send: _StaffSend, staff: Principal, begin: Begin) -> JSONResponse:
    ctx = send.ctx
    now = datetime.fromtimestamp(ctx.clock(), UTC)
    try:
        fresh, leads = await _check_sendable_now(send, staff, now)
    except ApiError as exc:
        ctx.metrics.send(exc.reason)
        return _error_response(exc)
    try:
        media, msg = await _send_to_twilio(send, fresh, look_first=begin.taken_over)
    except ApiError as exc:
        ctx.metrics.send(exc.reason)
        return _error_response(exc)
    except sends.TWILIO_ERRORS as exc:
        err = sends.failure_answer(send.request, exc)
        ctx.metrics.send(err.reason)
        return _error_response(err)
    view = await run_in_threadpool(
        functools.partial(
            sends.record_sent,
            ctx,
            fresh,
            leads,
            send.sender,
            msg,
            send.body,
            send.key,
            now,
            media=media,
        )
    )
    ctx.metrics.send("accepted")
    return JSONResponse(view, status_code=202)


async def _check_sendable_now(
    send: _StaffSend, staff: Principal, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The conversation as stored now and its leads; ApiError if it may not be texted."""
    ctx = send.ctx
    fresh = (
        await run_in_threadpool(conversation_store.get_conversation, ctx.tables, send.sid)
        or send.conv
    )
    leads = await run_in_threadpool(sends.check_sendable, ctx, fresh, now)
    await run_in_threadpool(check_send_rate, ctx, staff, send.sid)  # 429 past the limits
    return fresh, leads


async def _send_to_twilio(
    send: _StaffSend, fresh: dict[str, Any], *, look_first: bool
) -> tuple[list[dict[str, Any]] | None, Any]:
    """Attach the staged photo (if any) and post the message: (media, Twilio message)."""
    media = await run_in_threadpool(
        staff_media.attach_to_send, send.ctx, send.media_sid, send.sender.staff_id, fresh
    )
    msg = await run_in_threadpool(
        functools.partial(
            sends.send_via_twilio,
            send.ctx,
            fresh,
            send.sender,
            send.body,
            send.key,
            look_first=look_first,
            media_sid=send.media_sid,
        )
    )
    return media, msg


# --------------------------------------------------------------------------- leads


@router.patch(
    "/leads/{lead_id}",
    response_model=LeadView,
    responses={**ERRORS, 412: {"model": ErrorBody}, 428: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LeadPatch.model_json_schema()}},
        }
    },
)
async def patch_lead(
    request: Request,
    staff: Staff,
    lead_id: Annotated[str, Path(max_length=128)],
    if_match: Annotated[str | None, Header(max_length=64)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Pipeline status, assignee, note; only if the lead is still at the If-Match version.

    With an `Idempotency-Key` (the desktop sends one), a repeat of a request
    whose answer was lost gets that answer (200) instead of a 412 against its
    own change.
    """
    ctx = _ctx(request)
    lead = await run_in_threadpool(_load_lead, request, staff, lead_id)
    expected = _if_match_version(if_match)
    raw = await request.body()
    patch = parse_patch(raw)
    edit = _LeadEdit(
        ctx=ctx,
        staff=staff,
        lead_id=lead_id,
        lead=lead,
        patch=patch,
        expected=expected,
        assignee_name=await _new_assignee_name(ctx, staff, patch),
    )
    attempt = functools.partial(_attempt_patch, edit)
    if idempotency_key is None:
        return await attempt(Begin(BeginState.NEW))
    response = await run_idempotent(
        ctx.idempotency,
        scope=f"staff:{staff.retailer_id}:{staff.staff_id}:lead",
        key=idempotency_key,
        request_fingerprint=fingerprint(lead_id, str(expected), raw),
        call=attempt,
    )
    return response  # type: ignore[return-value]


@dataclass(frozen=True)
class _LeadEdit:
    """One validated lead patch, as the idempotent attempt needs it."""

    ctx: RelayContext
    staff: Principal
    lead_id: str
    lead: dict[str, Any]
    patch: LeadPatch
    expected: int
    assignee_name: str | None


async def _new_assignee_name(ctx: RelayContext, staff: Principal, patch: LeadPatch) -> str | None:
    """The directory name of someone else the lead is assigned to."""
    if not patch.assignee_id or patch.assignee_id == staff.staff_id:
        return None
    return await run_in_threadpool(
        staff_directory.name_of, ctx.tables, staff.retailer_id or "", patch.assignee_id
    )


async def _attempt_patch(edit: _LeadEdit, begin: Begin) -> JSONResponse:
    ctx = edit.ctx
    now = sends.iso(datetime.now(UTC))
    try:
        item = await run_in_threadpool(
            lead_store.update_lead,
            ctx.tables,
            edit.lead_id,
            apply_patch(edit.patch, edit.staff, now, edit.assignee_name),
            expected_version=edit.expected,
        )
    except versioned.VersionConflict as exc:
        current = exc.current or edit.lead
        return _error_response(
            ApiError(
                412,
                "version_conflict",
                "The lead changed since you loaded it; here is the current version",
                current=lead_store.lead_view(current),
            )
        )
    except versioned.NotFound:
        return _error_response(ApiError(404, "lead_not_found", "No lead with this LeadId"))
    except ApiError as exc:  # a cap (app.relay.bounds)
        return _error_response(exc)
    except ClientError as exc:
        if not item_too_large(exc):
            raise
        return _error_response(lead_too_large())
    if item is None:  # nothing changed: answer the current state, no new version
        item = edit.lead
    else:
        await run_in_threadpool(
            publish,
            ctx.change_log,
            lead_store.lead_location(item),
            "lead",
            edit.lead_id,
            int(item.get("Version", 0)),
            lead_store.lead_view(item),
        )
    return JSONResponse(
        lead_store.lead_view(item), headers={"ETag": f'"{int(item.get("Version", 0))}"'}
    )


# --------------------------------------------------------------------------- read


@router.post("/conversations/{sid}/read", response_model=ConversationView, responses=ERRORS)
async def mark_read(
    request: Request, staff: Staff, sid: Annotated[str, Path(max_length=128)]
) -> JSONResponse:
    """Reset the conversation's unread count (a change for every desktop of its locations)."""
    ctx = _ctx(request)
    conv = await run_in_threadpool(_load_conversation, request, staff, sid)
    now = sends.iso(datetime.now(UTC))

    def fn(item: dict[str, Any]) -> dict[str, Any] | None:
        if int(item.get("UnreadCount", 0)) == 0:
            return None
        return {"UnreadCount": 0, "LastReadAt": now}

    try:
        item = await run_in_threadpool(conversation_store.update_conversation, ctx.tables, sid, fn)
    except versioned.NotFound:
        raise ApiError(404, "conversation_not_found", "No conversation with this sid") from None
    mine = staff_locations(request, staff)
    if item is not None:
        for loc in conversation_store.conversation_locations(item):
            await run_in_threadpool(
                publish,
                ctx.change_log,
                loc,
                "conversation",
                sid,
                int(item.get("Version", 0)),
                conversation_store.conversation_view(item, loc),
            )
    current = item or conv
    shown = next(
        (loc for loc in conversation_store.conversation_locations(current) if loc in mine), None
    )
    return JSONResponse(conversation_store.conversation_view(current, shown))

"""Staff routes that make, hand over and end leads: `GET /v1/staff` (colleagues to
assign), `POST /v1/leads` (a conversation a staff member starts) and
`POST /v1/leads/{LeadId}/close`.

A staff-made lead goes through the lead service: the website create's checks
(`LeadService.create_screened`), its lock and its processing, so the conversation
is made or joined like any lead's; the Twilio integration sends no greeting and no
lead details for it (`Lead.Source` "staff"): the staff member's first text is the
conversation's first message, and quiet hours apply to it (its creation is not the
customer's contact). A close runs the lead service's close under the lead's lock,
as `POST /Lead/{id}/close` does.
"""

from __future__ import annotations

import functools
from typing import Annotated

import ulid
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.lead_schema import LeadValidationError, parse_staff_lead
from app.core.wire import ErrorBody, LeadView, StaffMemberView
from app.relay import lead_store, staff_directory, versioned
from app.relay.auth import Principal
from app.relay.errors import ApiError
from app.relay.idempotency import Begin, BeginState, fingerprint, run_idempotent
from app.relay.staff_access import (
    ERRORS,
    Staff,
    ctx_of,
    error_response,
    forbidden,
    if_match_version,
    load_lead,
    parse_json_object,
    parse_reason,
    staff_locations,
    staff_name,
)

router = APIRouter(prefix="/v1", tags=["staff"])


# --------------------------------------------------------------------------- colleagues


@router.get("/staff", response_model=list[StaffMemberView], responses=ERRORS)
async def list_staff(request: Request, staff: Staff) -> JSONResponse:
    """The staff of the caller's locations, each with the locations (of the caller's)
    they work at."""
    ctx = ctx_of(request)
    mine = staff_locations(request, staff)
    if staff.staff_id and staff.retailer_id:
        await run_in_threadpool(
            functools.partial(
                staff_directory.ensure_registered,
                ctx.tables,
                retailer_id=staff.retailer_id,
                staff_id=staff.staff_id,
                name=staff_name(staff),
                locations=staff.locations,
                key_ref=staff.key_ref,
            )
        )
    members = await run_in_threadpool(
        staff_directory.staff_of, ctx.tables, staff.retailer_id or "", mine
    )
    return JSONResponse([m.to_dict() for m in members])


# --------------------------------------------------------------------------- new lead


def _new_lead_extras(staff: Principal, note: str | None, now: str) -> versioned.Updates:
    """What a staff-made lead holds beyond a website lead's first state."""
    name = staff_name(staff)
    extra: versioned.Updates = {
        "Activity": [lead_store.activity("created", f"{name} started this conversation", now)],
        "Notes": [],
        "AssigneeId": staff.staff_id,  # whoever starts it, answers it
        "AssigneeName": name,
    }
    if note:
        extra["Notes"] = [
            {
                "noteId": str(ulid.ULID()),
                "authorId": staff.staff_id or "",
                "authorName": name,
                "body": note,
                "at": now,
            }
        ]
    return extra


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadView,
    responses={**ERRORS, 409: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
async def create_lead(
    request: Request,
    staff: Staff,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Start a conversation with a customer (201 + the new lead); no text goes out until
    the staff member's first one."""
    ctx = ctx_of(request)
    if not idempotency_key or not idempotency_key.strip():
        raise ApiError(
            400, "idempotency_key_required", "Send an Idempotency-Key header with every new lead"
        )
    raw = await request.body()
    try:
        req, note = parse_staff_lead(parse_json_object(raw), staff.retailer_id or "")
    except LeadValidationError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    if req.location_id not in staff_locations(request, staff):
        raise forbidden()
    key = idempotency_key.strip()

    async def attempt(begin: Begin) -> JSONResponse:
        extra = _new_lead_extras(staff, note, versioned.now_iso())
        try:
            item = await run_in_threadpool(ctx.leads.create_screened, req, staff, key, extra)
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse(lead_store.lead_view(item), status_code=201)

    response = await run_idempotent(
        ctx.idempotency,
        scope=f"staff:{staff.retailer_id}:{staff.staff_id}:lead-create",
        key=key,
        request_fingerprint=fingerprint(raw),
        call=attempt,
        # a refusal made no lead: the same key may try again once the cause is gone
        remember=lambda status: 200 <= status < 300,
    )
    return response  # type: ignore[return-value]


# --------------------------------------------------------------------------- close


@router.post(
    "/leads/{lead_id}/close",
    response_model=LeadView,
    responses={**ERRORS, 412: {"model": ErrorBody}, 428: {"model": ErrorBody}},
)
async def close_lead(
    request: Request,
    staff: Staff,
    lead_id: Annotated[str, Path(max_length=128)],
    if_match: Annotated[str | None, Header(max_length=64)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Close the lead (and its side of the conversation) as `Lead/close` does, if it is
    still at the If-Match version (412 with the current lead otherwise)."""
    ctx = ctx_of(request)
    lead = await run_in_threadpool(load_lead, request, staff, lead_id)
    expected = if_match_version(if_match)
    raw = await request.body()
    reason = parse_reason(parse_json_object(raw))

    async def attempt(begin: Begin) -> JSONResponse:
        current = await run_in_threadpool(lead_store.get_lead, ctx.tables, lead_id) or lead
        if int(current.get("Version", 0)) != expected:
            return error_response(
                ApiError(
                    412,
                    "version_conflict",
                    "The lead changed since you loaded it; here is the current version",
                    current=lead_store.lead_view(current),
                )
            )
        try:
            await run_in_threadpool(ctx.leads.close, lead_id, {"reason": reason}, staff)
        except ApiError as exc:
            return error_response(exc)
        closed = await run_in_threadpool(lead_store.get_lead, ctx.tables, lead_id) or current
        version = int(closed.get("Version", 0))
        return JSONResponse(lead_store.lead_view(closed), headers={"ETag": f'"{version}"'})

    if idempotency_key is None:
        return await attempt(Begin(BeginState.NEW))
    response = await run_idempotent(
        ctx.idempotency,
        scope=f"staff:{staff.retailer_id}:{staff.staff_id}:close",
        key=idempotency_key,
        request_fingerprint=fingerprint(lead_id, str(expected), raw),
        call=attempt,
    )
    return response  # type: ignore[return-value]

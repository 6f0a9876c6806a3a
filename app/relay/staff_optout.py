"""`POST /v1/conversations/{sid}/opt-out`: a customer asked staff (by phone, in the
store) not to be texted any more.

The customer is recorded as opted out of the conversation's pool number in the
compatible `OptedOutNumbers` table, as a STOP would record them, with an
`OptOutRequest` that names the staff member and their reason; the opt-out's time
is kept as the pool number's last event (`app.relay.optouts`), so an older STOP or
START replayed later changes nothing while the customer's own START afterwards
still opts them back in. The conversation and its leads are flagged opted out and
the leads close through the lead service (the store's phone gets the usual
closing notice; the customer gets nothing). Every later send answers 422
`recipient_opted_out`.
"""

from __future__ import annotations

import logging
from typing import Annotated

import ulid
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.wire import ConversationView, ErrorBody
from app.relay import consent_log, conversation_store, lead_store, optouts, versioned
from app.relay.auth import Principal
from app.relay.context import RelayContext
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.idempotency import Begin, BeginState, fingerprint, run_idempotent
from app.relay.logs import mask_phone
from app.relay.staff_access import (
    ERRORS,
    Staff,
    ctx_of,
    load_conversation,
    parse_json_object,
    parse_reason,
    staff_locations,
    staff_name,
)

log = logging.getLogger("app.relay.staff_optout")

router = APIRouter(prefix="/v1", tags=["staff"])


def opt_out_request_text(staff: Principal, reason: str) -> str:
    """The `OptOutRequest` of an opt-out staff recorded: who and why."""
    return f"Recorded by staff {staff_name(staff)} ({staff.staff_id}): {reason}"


def record_opt_out(ctx: RelayContext, sid: str, staff: Principal, reason: str) -> versioned.Item:
    """Record the opt-out, flag the conversation and its leads, close the leads; the
    conversation item as it is afterwards."""
    conv = conversation_store.get_conversation(ctx.tables, sid)
    if conv is None:
        raise ApiError(404, "conversation_not_found", "No conversation with this sid")
    customer, pool = str(conv.get("CustomerPhone", "")), conv.get("CustomerProxy")
    if not customer or not pool:
        raise ApiError(
            409, "conversation_not_ready", "The conversation has no number for the customer yet"
        )
    event_sid = f"staff:{staff.staff_id}:{ulid.ULID()}"  # unique: never taken for a replay
    text = opt_out_request_text(staff, reason)
    optouts.apply_event(ctx, customer, str(pool), "STOP", float(ctx.clock()), event_sid, text)
    _record_consent(ctx, conv, staff, reason, event_sid)
    ctx.checkpoint("staff-opt-out-recorded")
    updated = conversation_store.update_conversation(
        ctx.tables, sid, lambda cur: None if cur.get("OptedOut") else {"OptedOut": True}
    )
    for item in [updated] if updated is not None else []:
        for loc in conversation_store.conversation_locations(item):
            publish(
                ctx.change_log,
                loc,
                "conversation",
                sid,
                int(item.get("Version", 0)),
                conversation_store.conversation_view(item, loc),
            )
    lead_ids = [str(x) for x in conv.get("LeadIds") or []]
    for lead_id in lead_ids:
        flagged = lead_store.update_lead(
            ctx.tables, lead_id, lambda cur: None if cur.get("OptedOut") else {"OptedOut": True}
        )
        if flagged is not None:
            publish(
                ctx.change_log,
                lead_store.lead_location(flagged),
                "lead",
                lead_id,
                int(flagged.get("Version", 0)),
                lead_store.lead_view(flagged),
            )
    closing = f"Customer opted out (recorded by {staff_name(staff)}): {reason}"[:500]
    ctx.leads.close_owed(lead_ids, closing)
    log.info(
        "opt-out recorded by staff",
        extra={"conversation": sid, "staff": staff.staff_id, "phone": mask_phone(customer)},
    )
    return conversation_store.get_conversation(ctx.tables, sid) or updated or conv


def _record_consent(
    ctx: RelayContext, conv: versioned.Item, staff: Principal, reason: str, event_sid: str
) -> None:
    """The opt-out in the consent record of the compliance export (who and why)."""
    retailers = {str(staff.retailer_id)}
    if conv.get("RetailerId"):
        retailers.add(str(conv["RetailerId"]))
    consent_log.record_event(
        ctx.tables,
        retailers,
        kind="STAFF_OPT_OUT",
        phone=str(conv.get("CustomerPhone", "")),
        pool_number=str(conv.get("CustomerProxy", "")),
        dedupe_id=event_sid,
        source="staff",
        location_id=conv.get("LocationId"),
        conversation_sid=str(conv["ConversationSid"]),
        lead_ids=[str(x) for x in conv.get("LeadIds") or []],
        staff_id=staff.staff_id,
        staff_name=staff_name(staff),
        reason=reason,
    )


@router.post(
    "/conversations/{sid}/opt-out",
    response_model=ConversationView,
    responses={**ERRORS, 409: {"model": ErrorBody}},
)
async def opt_out(
    request: Request,
    staff: Staff,
    sid: Annotated[str, Path(max_length=128)],
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Record that the customer asked not to be texted (nothing is texted to them)."""
    ctx = ctx_of(request)
    conv = await run_in_threadpool(load_conversation, request, staff, sid)
    raw = await request.body()
    reason = parse_reason(parse_json_object(raw))
    mine = staff_locations(request, staff)

    async def attempt(begin: Begin) -> JSONResponse:
        item = await run_in_threadpool(record_opt_out, ctx, sid, staff, reason)
        shown = next(
            (loc for loc in conversation_store.conversation_locations(item) if loc in mine), None
        )
        return JSONResponse(conversation_store.conversation_view(item or conv, shown))

    if idempotency_key is None:
        return await attempt(Begin(BeginState.NEW))
    response = await run_idempotent(
        ctx.idempotency,
        scope=f"staff:{staff.retailer_id}:{staff.staff_id}:opt-out",
        key=idempotency_key,
        request_fingerprint=fingerprint(sid, raw),
        call=attempt,
    )
    return response  # type: ignore[return-value]

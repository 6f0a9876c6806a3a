"""`POST /v1/leads/{LeadId}/sync`: the desktop's "Sync now" (staff key, scoped).

Runs the lead's integrations again in the background, as `Lead/sync` does (a
failed connector is tried again; a connector's unconfirmed steps are not: that
is `admin connector-resend`); on a closed lead whose close left an integration
open (a connector's flush failed), the close is run again. Answers 202 with the
lead; what the integrations do reaches the desktop through the change feed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.statuses import LeadStatus
from app.core.wire import ErrorBody, LeadView
from app.relay import lead_store
from app.relay.context import RelayContext, context_of
from app.relay.lead_runner import DEFAULT_CLOSE_REASON, Refused
from app.relay.staff_access import Staff
from app.relay.staff_access import load_lead as _load_lead
from app.relay.versioned import Item

router = APIRouter(prefix="/v1", tags=["staff"])


def request_sync(ctx: RelayContext, lead_id: str) -> Item:
    svc = ctx.leads
    lead = lead_store.get_lead(ctx.tables, lead_id) or {}
    if lead.get("Status") == LeadStatus.CLOSED or lead.get("CloseRequested"):
        reason = str(lead.get("CloseReason") or lead.get("CloseRequested") or DEFAULT_CLOSE_REASON)
        asked = svc.runner.request_close(lead_id, reason)
    else:
        try:
            asked = svc.runner.request_sync(lead_id)
        except Refused:  # closed meanwhile: its close runs anyway
            asked = None
    if asked is not None:
        svc.submit(lead_id)
    return lead_store.get_lead(ctx.tables, lead_id) or lead


@router.post(
    "/leads/{lead_id}/sync",
    status_code=202,
    response_model=LeadView,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
async def sync_lead(
    request: Request, staff: Staff, lead_id: Annotated[str, Path(max_length=128)]
) -> JSONResponse:
    """Run the lead's integrations (Twilio, RLM, DHQ, ...) again now."""
    await run_in_threadpool(_load_lead, request, staff, lead_id)
    item = await run_in_threadpool(request_sync, context_of(request), lead_id)
    return JSONResponse(lead_store.lead_view(item), status_code=202)

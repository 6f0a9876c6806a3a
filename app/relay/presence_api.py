"""`POST /v1/conversations/{sid}/presence`: the staff member views, types in or left
a conversation (`app.relay.presence`; other desktops hear it on `/v1/stream`)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.core.wire_team import PresenceRequest
from app.relay import conversation_store
from app.relay.context import RelayContext
from app.relay.errors import ApiError
from app.relay.presence import PresenceStore, holds_of, iso_ms
from app.relay.staff_api import ERRORS, Staff, _ctx, _load_conversation, _parse_json_object

router = APIRouter(prefix="/v1", tags=["staff"])

#: presence posts per staff member a minute (a desktop sends a few: renewals, typing)
PRESENCE_RATE_PER_MIN = 120


def _parse(raw: bytes) -> PresenceRequest:
    data = _parse_json_object(raw)
    try:
        return PresenceRequest.model_validate(data)
    except ValidationError:
        raise ApiError(
            400, "invalid_request", 'state must be "viewing", "typing" or "left"'
        ) from None


def _check_rate(ctx: RelayContext, staff_key: str) -> None:
    refusal = ctx.limits.hit(f"presence:{staff_key}", PRESENCE_RATE_PER_MIN, 60.0)
    if refusal is not None:
        raise refusal.error("rate_limited", "Too many presence updates; slow down")


@router.post(
    "/conversations/{sid}/presence",
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PresenceRequest.model_json_schema()}},
        }
    },
)
async def post_presence(
    request: Request, staff: Staff, sid: Annotated[str, Path(max_length=128)]
) -> JSONResponse:
    """The caller views, types in or left this conversation: `{"state", "expiresAt"}`.

    "viewing" holds for VIEWING_HOLD_S and "typing" for TYPING_HOLD_S unless posted
    again; "left" ends it at once. Not idempotency-keyed: posting a state twice is
    the same as once.
    """
    ctx = _ctx(request)
    conv = await run_in_threadpool(_load_conversation, request, staff, sid)
    state = _parse(await request.body()).state
    staff_id = staff.staff_id or ""
    await run_in_threadpool(_check_rate, ctx, f"{staff.retailer_id}:{staff_id}")
    locations = conversation_store.conversation_locations(conv)
    now_ms = int(time.time() * 1000)
    holds = holds_of(ctx.settings)
    items = await run_in_threadpool(
        PresenceStore(ctx.tables).post,
        locations,
        sid,
        staff_id,
        staff.name or staff_id,
        state,
        now_ms,
        holds,
    )
    ctx.presence.posted(locations, items, left=f"{sid}#{staff_id}")
    hold = {"viewing": holds[0], "typing": holds[1], "left": 0.0}[state]
    return JSONResponse({"state": state, "expiresAt": iso_ms(now_ms + int(hold * 1000))})

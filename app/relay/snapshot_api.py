"""`GET /v1/snapshot` (a new desktop's bootstrap) and `GET
/v1/conversations/{sid}/messages` (a thread's older messages); see
`app.relay.snapshot` and docs/relay-staff.md, *Snapshot*."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.relay import conversation_store, snapshot
from app.relay.change_records import InvalidCursor
from app.relay.errors import ApiError
from app.relay.staff_access import ERRORS, Staff, ctx_of, load_conversation, staff_locations

router = APIRouter(prefix="/v1", tags=["staff"])


@router.get("/snapshot", responses=ERRORS)
async def read_snapshot(
    request: Request,
    staff: Staff,
    page: Annotated[str | None, Query(max_length=4096)] = None,
    limit: Annotated[int, Query(ge=1, le=snapshot.MAX_PAGE)] = snapshot.DEFAULT_PAGE,
) -> JSONResponse:
    """One page of the current state of the key's locations: `{"changes", "cursor",
    "next"}`; follow `next` until null, then the feed from `cursor`."""
    ctx = ctx_of(request)
    if not ctx.settings.snapshot_bootstrap:
        raise ApiError(404, "not_found", "This relay bootstraps desktops from its change log")
    locations = staff_locations(request, staff)
    try:
        result = await run_in_threadpool(
            snapshot.read_page, ctx.tables, ctx.change_log, locations, page, limit
        )
    except InvalidCursor as exc:
        raise ApiError(exc.status, exc.reason, str(exc)) from None
    return JSONResponse(result.wire())


@router.get("/conversations/{sid}/messages", responses=ERRORS)
async def older_messages(
    request: Request,
    staff: Staff,
    sid: str,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=snapshot.MAX_THREAD_PAGE)] = snapshot.THREAD_PAGE,
) -> JSONResponse:
    """The conversation's messages created before `before` (ISO 8601; none: the
    newest), newest first, as message changes: `{"changes": [...]}`."""
    conv = await run_in_threadpool(load_conversation, request, staff, sid)
    visible = set(staff_locations(request, staff))
    shown = next(
        (loc for loc in conversation_store.conversation_locations(conv) if loc in visible), ""
    )
    changes = await run_in_threadpool(
        snapshot.older_messages, ctx_of(request).tables, shown, sid, before, limit
    )
    return JSONResponse({"changes": changes})

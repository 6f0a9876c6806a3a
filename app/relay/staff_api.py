"""The staff API (`/v1/...`): what the desktop app talks to.

Every route authenticates a *staff* key (`require_staff`) before reading the
body, and every entity it touches is checked against the key's locations:
403 `forbidden` for an entity of another location or retailer, 404 for an
unknown id. See docs/relay-staff.md.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from app.core.wire import ChangesPage, LocationView, StaffView
from app.relay import directory
from app.relay.auth import Principal, require_staff
from app.relay.changes import DEFAULT_LIMIT, MAX_LIMIT, ChangeLog, InvalidCursor
from app.relay.errors import ApiError
from app.relay.metrics import RelayMetrics, metrics_of

log = logging.getLogger("app.relay.staff")

router = APIRouter(prefix="/v1", tags=["staff"])

Staff = Annotated[Principal, Depends(require_staff())]

DEFAULT_HEARTBEAT_S = 15.0
DEFAULT_POLL_S = 0.2
#: Changes read per poll of the stream (a reconnecting client catches up in pages).
STREAM_PAGE = 200


def _ctx(request: Request) -> Any:
    return request.app.state.ctx


def _tunable(request: Request, name: str, env: str, default: float) -> float:
    """ctx.extras[name] (tests) > Settings.<name> > environment > default."""
    ctx = _ctx(request)
    value = ctx.extras.get(name) if isinstance(getattr(ctx, "extras", None), dict) else None
    if value is None:
        value = getattr(ctx.settings, name, None)
    if value is None:
        raw = os.environ.get(env, "")
        try:
            value = float(raw) if raw else None
        except ValueError:
            value = None
    return float(default if value is None else value)


def staff_locations(request: Request, staff: Principal) -> list[str]:
    """The key's locations (sorted, unique). A key's scope is what it lists."""
    return sorted(set(staff.locations))


def _change_log(request: Request) -> ChangeLog:
    log_ = _ctx(request).change_log
    if not isinstance(log_, ChangeLog):
        raise ApiError(503, "feed_unavailable", "The change feed is not configured")
    return log_


# --------------------------------------------------------------------------- /v1/me


@router.get("/me", response_model=StaffView, response_model_by_alias=True)
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
    )
    return JSONResponse(view.to_dict())


# --------------------------------------------------------------------------- change feed


def _visible_locations(request: Request, staff: Principal) -> list[str]:
    return staff_locations(request, staff)


@router.get("/changes", response_model=ChangesPage, response_model_by_alias=True)
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
        raise ApiError(400, exc.reason, str(exc)) from None
    return JSONResponse(page.wire())


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream(
    request: Request,
    staff: Staff,
    cursor: Annotated[str | None, Query(max_length=16384)] = None,
    last_event_id: Annotated[str | None, Header(max_length=16384)] = None,
) -> EventSourceResponse:
    """Server-sent events: `event: change`, `id:` = the cursor right after the change.

    A reconnecting client sends `Last-Event-ID` (preferred over `?cursor=`) and
    resumes exactly after the last change it received. Heartbeat comments keep
    proxies from closing an idle connection.
    """
    log_ = _change_log(request)
    locations = _visible_locations(request, staff)
    start = last_event_id if last_event_id else cursor
    # Validate before answering 200: a bad cursor is a 400, not a broken stream.
    try:
        first = await run_in_threadpool(log_.read, locations, start, STREAM_PAGE)
    except InvalidCursor as exc:
        raise ApiError(400, exc.reason, str(exc)) from None
    poll = max(0.02, _tunable(request, "stream_poll_s", "W2T_STREAM_POLL", DEFAULT_POLL_S))
    heartbeat = max(
        0.05, _tunable(request, "stream_heartbeat_s", "W2T_STREAM_HEARTBEAT", DEFAULT_HEARTBEAT_S)
    )
    metrics = metrics_of(request)
    if isinstance(metrics, RelayMetrics):
        metrics.stream_clients.inc()

    async def events() -> AsyncIterator[ServerSentEvent]:
        page = first
        while True:
            for rec in page.changes:
                yield ServerSentEvent(
                    data=json.dumps(rec.wire(), separators=(",", ":")),
                    event="change",
                    id=rec.cursor_after,
                )
            position = page.cursor
            if not page.has_more:
                await anyio.sleep(poll)
            while True:
                try:
                    page = await run_in_threadpool(log_.read, locations, position, STREAM_PAGE)
                    break
                except Exception as exc:  # DynamoDB hiccup: keep the stream, retry
                    log.warning("stream poll failed", extra={"error": type(exc).__name__})
                    await anyio.sleep(max(poll, 1.0))

    return EventSourceResponse(
        events(),
        ping=heartbeat,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

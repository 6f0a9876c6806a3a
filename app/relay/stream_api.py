"""`GET /v1/stream`: the change feed live, and who else is in a conversation.

Server-sent events: `event: change` (data: one change of the log, `id:` the cursor
right after it) and `event: presence` (data: an `app.core.wire_team.PresenceEvent`;
no id, it is not in the log: a reconnecting stream starts with everyone present
now). Heartbeat comments keep proxies from closing an idle connection. See
docs/relay-staff.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from app.relay.auth import presented_key
from app.relay.change_records import ChangeRecord, CursorExpired, InvalidCursor, decode_cursor
from app.relay.change_records import ChangesPage as LogPage
from app.relay.changes import ChangeLog
from app.relay.errors import ApiError
from app.relay.presence import PresenceFeed
from app.relay.staff_api import ERRORS, Staff, _change_log, _ctx, _visible_locations
from app.relay.staff_limits import StreamGuard, open_stream_slot
from app.relay.stream import HeadWatch

log = logging.getLogger("app.relay.staff")

router = APIRouter(prefix="/v1", tags=["staff"])

#: Changes read per poll of the stream (a reconnecting client catches up in pages).
STREAM_PAGE = 200
#: a stream looks at presence at most this often (its process reads it once a second)
PRESENCE_EVERY_S = 0.25


class _Pages:
    """A stream's reads of the change log: only the locations whose head moved."""

    def __init__(self, log_: ChangeLog, watch: HeadWatch, locations: list[str]) -> None:
        self.log, self.watch, self.locations = log_, watch, locations

    def next(self, position: str, backlog: bool) -> LogPage:
        if backlog:
            return self.log.read(self.locations, position, STREAM_PAGE)
        at = decode_cursor(position)
        heads = self.watch.heads(self.locations)
        busy = [loc for loc in self.locations if heads.get(loc, 0) > at.get(loc, 0)]
        if not busy:
            return LogPage([], position, False)
        return self.log.read(self.locations, position, STREAM_PAGE, only=busy)


class _PresenceEvents:
    """A stream's presence events, at most every PRESENCE_EVERY_S; never its end."""

    def __init__(self, feed: PresenceFeed) -> None:
        self.feed = feed
        self.last = float("-inf")
        self.failing = False

    async def due(self) -> list[ServerSentEvent]:
        if anyio.current_time() - self.last < PRESENCE_EVERY_S:
            return []
        self.last = anyio.current_time()
        try:
            payloads = await run_in_threadpool(self.feed.changes, int(time.time() * 1000))
        except Exception as exc:  # DynamoDB hiccup (or no table yet): changes go on
            if not self.failing:
                log.warning("presence read failed", extra={"error": type(exc).__name__})
            self.failing = True
            return []
        self.failing = False
        return [
            ServerSentEvent(data=json.dumps(p, separators=(",", ":")), event="presence")
            for p in payloads
        ]


class _Session:
    """One open stream: its change pages, presence events and guard, as SSE events."""

    def __init__(
        self, pages: _Pages, presence: _PresenceEvents, guard: StreamGuard, poll: float
    ) -> None:
        self.pages, self.presence, self.guard, self.poll = pages, presence, guard, poll

    async def events(self, first: LogPage, announced: int) -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in self._events(first, announced):
                yield event
        finally:
            await self.guard.close()

    async def _events(self, page: LogPage, since: int) -> AsyncIterator[ServerSentEvent]:
        watch, locations = self.pages.watch, self.pages.locations
        while True:
            if not await self.guard.allowed():  # key revoked, or its slot lost
                return
            for rec in page.changes:
                yield _change_event(rec)
            for event in await self.presence.due():
                yield event
            if not page.has_more:
                await watch.sleep(locations, min(self.poll, PRESENCE_EVERY_S), since)
            step = await self._next(page)
            if step is None:  # the position expired: the reconnect is answered 410
                return
            page, since = step

    async def _next(self, page: LogPage) -> tuple[LogPage, int] | None:
        while True:
            try:
                since = self.pages.watch.mark(self.pages.locations)
                nxt = await run_in_threadpool(self.pages.next, page.cursor, page.has_more)
                return nxt, since
            except CursorExpired:
                log.info("stream closed: its cursor is past the change log's retention")
                return None
            except Exception as exc:  # DynamoDB hiccup: keep the stream, retry
                log.warning("stream poll failed", extra={"error": type(exc).__name__})
                await anyio.sleep(max(self.poll, 1.0))


def _change_event(rec: ChangeRecord) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(rec.wire(), separators=(",", ":")), event="change", id=rec.cursor_after
    )


async def _first_page(log_: ChangeLog, locations: list[str], start: str | None) -> LogPage:
    """The first read, before answering 200: a bad cursor is a 400 (an expired one a
    410), not a broken stream."""
    try:
        return await run_in_threadpool(log_.read, locations, start, STREAM_PAGE)
    except InvalidCursor as exc:
        raise ApiError(exc.status, exc.reason, str(exc)) from None


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        **ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "server-sent events"},
    },
)
async def stream(
    request: Request,
    staff: Staff,
    cursor: Annotated[str | None, Query(max_length=16384)] = None,
    last_event_id: Annotated[str | None, Header(max_length=16384)] = None,
) -> EventSourceResponse:
    """Server-sent events: `event: change`, `id:` = the cursor right after the change;
    `event: presence` when someone starts or stops viewing or typing.

    A reconnecting client sends `Last-Event-ID` (preferred over `?cursor=`) and
    resumes exactly after the last change it received. A cursor older than the
    change log's retention is answered 410 `cursor_expired`; an open stream whose
    position expires ends (its reconnect gets the 410).
    """
    ctx = _ctx(request)
    log_ = _change_log(request)
    locations = _visible_locations(request, staff)
    watch = ctx.head_watch
    # taken before each read of the log: a change stored by this instance while the
    # stream is reading or sending (not asleep) then cuts its next sleep short
    announced = watch.mark(locations)
    first = await _first_page(log_, locations, last_event_id if last_event_id else cursor)
    # at most W2T_STREAMS_PER_KEY open streams per key, on every instance (429 beyond)
    slot = await run_in_threadpool(open_stream_slot, ctx, staff)
    reauth = max(0.1, ctx.settings.stream_reauth_s)
    guard = StreamGuard(ctx, presented_key(request) or "", slot, reauth)
    ctx.metrics.stream_clients.inc()
    session = _Session(
        _Pages(log_, watch, locations),
        _PresenceEvents(PresenceFeed(ctx.presence, locations)),
        guard,
        max(0.02, ctx.settings.stream_poll_s),
    )
    return EventSourceResponse(
        session.events(first, announced),
        ping=max(0.05, ctx.settings.stream_heartbeat_s),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

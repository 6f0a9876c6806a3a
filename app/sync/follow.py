"""Following the relay's change feed: `/v1/me`, catch-up through `/v1/changes`, then the
live `/v1/stream`; any error → offline and reconnect with backoff, 401 → auth_required.

Each batch is applied in one writer job and one transaction, cursor included;
parsing happens in that job too, so nothing per change runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from httpx_sse import ServerSentEvent

from app.sync import store
from app.sync.api import ChangesApplied, EngineError, Me, SyncState
from app.sync.batches import batched
from app.sync.client import RelayAuthError, RelayClient, RelayError, RelayFinalError
from app.sync.db import Database
from app.sync.feed import PRESENCE_EVENT, ReceivedChange, parse_presence, parse_stream_event
from app.sync.retry import Backoff
from app.sync.status import EngineStatus

log = logging.getLogger(__name__)

#: leads in the snapshot's first page (the inbox's first screen and then some)
FIRST_SNAPSHOT_PAGE = 100
#: wait before trying a refused key again (the user may fix it in the meantime)
AUTH_RETRY_SECONDS = 30.0


class FeedFollower:
    def __init__(
        self,
        db: Database,
        status: EngineStatus,
        *,
        batch_size: int,
        heartbeat_timeout: float,
        reconnect_backoff: Backoff,
        on_me: Callable[[Me], None],
        on_online: Callable[[], None],
        on_media: Callable[[list[str]], None] = lambda _sids: None,
    ) -> None:
        self._db = db
        self._status = status
        self._batch_size = batch_size
        self._heartbeat_timeout = heartbeat_timeout
        self._backoff = reconnect_backoff
        self._on_me = on_me
        self._on_online = on_online
        self._on_media = on_media  # photos of live messages: fetched ahead
        self._attempt = 0
        self.stopped = False

    async def run(self, client: RelayClient) -> None:
        """Follow the feed until cancelled, reconnecting after every error."""
        self._attempt = 0
        while not self.stopped:
            try:
                await self._follow(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. a disk error too: keep trying, never die silently
                await self._after_error(exc)

    async def _follow(self, client: RelayClient) -> None:
        """One connection's life: who we are, catch up, then the stream until it fails."""
        if self._status.state is not SyncState.ONLINE:
            self._status.set_state(SyncState.CONNECTING)
        await self._load_me(client)
        self._status.set_state(SyncState.SYNCING)
        await self._catch_up(client)
        self._status.set_caught_up(True)
        self._status.set_state(SyncState.ONLINE)
        # (re)connected: rows backing off while the relay was away go now
        await self._db.writer.run(store.expedite_pending)
        self._on_online()
        stream = client.stream(self._status.cursor, self._heartbeat_timeout)
        # closed on the way out, so its reader task never outlives the stream
        async with contextlib.aclosing(batched(stream)) as batches:
            async for batch in batches:
                self._attempt = 0
                await self._apply_stream(batch)

    async def _load_me(self, client: RelayClient) -> None:
        staff = await client.me()
        me, touched = await self._db.writer.run(store.save_me, staff)
        self._on_me(me)
        if touched:
            self._status.emit(ChangesApplied(location_ids=frozenset(touched),
                                             initial_catch_up=True))

    async def _catch_up(self, client: RelayClient) -> None:
        if not self._status.cursor:
            await self._bootstrap(client)
        while True:
            page = await client.changes(self._status.cursor, self._batch_size)
            result = await self._db.writer.run(store.apply_changes, page.changes, page.cursor)
            self._status.synced(page.cursor)
            self._status.applied(result, catch_up=True)
            if not page.has_more:
                return

    async def _bootstrap(self, client: RelayClient) -> None:
        """No position yet: the relay's snapshot (every lead and conversation, the
        newest messages of the inbox's top threads) instead of replaying its log.
        Each page is applied as it comes (the inbox paints from the first); the
        feed cursor is stored once the last one is, so a bootstrap cut short starts
        again. An older relay without `/v1/snapshot` (404): the log is replayed."""
        cursor: str | None = None
        token: str | None = None
        while True:
            # the first page small: the top of the inbox paints sooner
            size = self._batch_size if token else min(self._batch_size, FIRST_SNAPSHOT_PAGE)
            try:
                page = await client.snapshot(token, size)
            except RelayFinalError as exc:
                if exc.status == 404 and cursor is None:
                    return
                raise
            cursor = cursor or page.cursor
            result = await self._db.writer.run(store.apply_changes, page.changes, None)
            self._status.applied(result, catch_up=True)
            if page.next is None:
                break
            token = page.next
        await self._db.writer.run(store.set_meta, "cursor", cursor)
        self._status.synced(cursor)

    async def _apply_stream(self, events: list[ServerSentEvent]) -> None:
        """Apply a batch of stream events as one transaction, cursor included; then
        pass on who else is in which conversation (presence is never stored)."""
        presence = [e for e in events if e.event == PRESENCE_EVENT]
        if len(presence) < len(events):
            others = [e for e in events if e.event != PRESENCE_EVENT]
            result, cursor = await self._db.writer.run(
                _apply_stream_events, others, self._status.cursor)
            self._status.synced(cursor)
            if result is not None:
                self._status.applied(result, catch_up=False)
                if result.media_sids:
                    self._on_media(result.media_sids)
        for sse in presence:
            event = parse_presence(sse)
            if event is not None:
                self._status.emit(event)

    async def apply_lead(self, lead: ReceivedChange) -> None:
        """A lead the relay answered with, mirrored like a change of the feed."""
        result = await self._db.writer.run(store.apply_received, [lead])
        self._status.synced(None)
        self._status.applied(result, catch_up=False)

    async def _after_error(self, exc: Exception) -> None:
        if isinstance(exc, RelayAuthError):
            await self._auth_required(str(exc))
            return
        if isinstance(exc, RelayFinalError) and exc.status == 403:
            # a known key without the staff API (e.g. a website key): the user has
            # to provide a staff key, retrying will not help
            await self._auth_required(f"{exc.reason}: {exc.message}")
            return
        if isinstance(exc, RelayFinalError) and exc.reason == "cursor_expired":
            # our position is older than the relay's change-log retention: bootstrap
            # again at once (the outbox and local-only state stay; the mirror is
            # brought up to date by the bootstrap, versions deciding)
            log.warning("the relay's change log no longer reaches our cursor; bootstrapping")
            await self._forget_cursor()
            return
        if isinstance(exc, RelayFinalError) and exc.reason == "invalid_cursor":
            # the relay no longer knows our position (its log was reset): start over
            # from the beginning; applying is idempotent
            log.warning("relay refused the cursor; catching up from the start")
            await self._forget_cursor()
        if isinstance(exc, RelayError):
            error = str(exc)
        elif isinstance(exc, EngineError):  # the store's damage or storage problem: the
            error = exc.message             # engine's keeper pauses this worker meanwhile
        else:
            log.exception("sync loop error", exc_info=exc)
            error = f"{type(exc).__name__}: {exc}"
        self._attempt += 1
        self._status.set_caught_up(False)
        self._status.set_state(SyncState.OFFLINE, error)
        await asyncio.sleep(self._backoff.delay(self._attempt, getattr(exc, "retry_after", None)))

    async def _forget_cursor(self) -> None:
        self._status.cursor = None
        await self._db.writer.run(store.set_meta, "cursor", "")

    async def _auth_required(self, error: str) -> None:
        self._status.set_caught_up(False)
        self._status.set_state(SyncState.AUTH_REQUIRED, error)
        await asyncio.sleep(AUTH_RETRY_SECONDS)


def _apply_stream_events(
    conn: sqlite3.Connection, events: Sequence[ServerSentEvent], known_cursor: str | None
) -> tuple[store.ApplyResult | None, str | None]:
    """Writer job: parse stream events and apply their changes as one batch.

    The cursor stored with the batch is the last one the events carry (as if
    each event had been applied in turn). Events without changes (heartbeats)
    only move the stored cursor. Returns the result (None when nothing was
    applied) and the cursor now stored (None when unchanged).
    """
    changes: list[Any] = []
    cursor: str | None = None
    for sse in events:
        items, event_cursor = parse_stream_event(sse)
        changes.extend(items)
        if event_cursor:
            cursor = event_cursor
    if changes:
        return store.apply_changes(conn, changes, cursor), cursor
    if cursor and cursor != known_cursor:
        store.set_meta(conn, "cursor", cursor)
        return None, cursor
    return None, None

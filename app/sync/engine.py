"""`SyncEngine`: the desktop's embedded sync engine (implements `app.sync.api.Engine`).

Runs on whatever asyncio loop calls `start()` (the qasync loop in the desktop,
`asyncio.run` in `web2text-sync`). All SQLite work happens on two worker
threads (one writer, one reader; see `app.sync.db`), so the loop never blocks
on the disk.

Two background tasks:
- the **sync loop**: `/v1/me`, catch-up through `/v1/changes` (one SQLite
  transaction per batch, cursor included), then `/v1/stream` with resume;
  any error → offline, reconnect with backoff; 401 → auth_required.
- the **outbox dispatcher**: takes the head row of every idle lane (a lane
  is a conversation for sends and read receipts, a lead for lead updates),
  delivers lanes in parallel and rows within a lane in order, retries
  transient failures with backoff and stops on final ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from filelock import FileLock, Timeout
from httpx_sse import ServerSentEvent

from app.core.wire import LeadView, MessageView
from app.sync import store
from app.sync.api import (
    UNSET,
    ChangesApplied,
    Engine,
    EngineError,
    EngineEvent,
    EngineListener,
    InboundMessages,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    OutboxItemDelivered,
    OutboxItemFailed,
    SearchHit,
    StatusChanged,
    SyncState,
    SyncStatus,
    ThreadMessage,
    _Unset,
)
from app.sync.client import (
    RelayAuthError,
    RelayClient,
    RelayFinalError,
    RelayTransientError,
)
from app.sync.db import Database
from app.sync.feed import (
    LeadChange,
    ReceivedChange,
    accepted_message,
    lead_answer,
    parse_stream_event,
)
from app.sync.inbox import parse_ts
from app.sync.retry import Backoff

log = logging.getLogger(__name__)

#: wait before trying a refused key again (the user may fix it in the meantime)
AUTH_RETRY_SECONDS = 30.0
#: bounds of one batch of live stream events (one transaction, one listener event)
STREAM_BATCH_EVENTS = 500
STREAM_BATCH_BYTES = 1_000_000
#: events received ahead of the writer before the stream reader waits
STREAM_QUEUE_EVENTS = 5_000


class SyncEngine:
    def __init__(
        self,
        data_dir: Path,
        relay_url: str | None = None,
        token: str | None = None,
        *,
        backoff: Backoff | None = None,
        reconnect_backoff: Backoff | None = None,
        heartbeat_timeout: float = 45.0,
        batch_size: int = 500,
        max_parallel: int = 8,
        request_timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.relay_url = relay_url
        self._token = token
        self.backoff = backoff or Backoff()
        self.reconnect_backoff = reconnect_backoff or Backoff(base=0.5, cap=30.0)
        self.heartbeat_timeout = heartbeat_timeout
        self.batch_size = batch_size
        self.max_parallel = max_parallel
        self._request_timeout = request_timeout
        self._transport = transport
        self._db: Database | None = None
        self._client: RelayClient | None = None
        self._listeners: list[EngineListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: dict[str, asyncio.Task[None]] = {}  # lane -> task
        self._wake = asyncio.Event()
        self._caught_up = asyncio.Event()
        self._changed = asyncio.Event()
        self._stopping = False
        self._me: Me | None = None
        self._state = SyncState.STOPPED
        self._pending = 0
        self._failed = 0
        self._last_error: str | None = None
        self._cursor: str | None = None
        self._last_synced_at: datetime | None = None
        self._lock: FileLock | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def db(self) -> Database:
        if self._db is None:
            raise EngineError("not_started", "the engine is not started")
        return self._db

    async def start(self) -> None:
        if self._db is not None:
            return
        self._stopping = False
        self._lock = _lock_store(self.data_dir)
        try:
            self._db = await Database.open_async(self.data_dir)
        except BaseException:
            _unlock_store(self._lock)
            self._lock = None
            raise
        requeued = await self.db.writer.run(store.requeue_inflight)
        if requeued:
            log.info("requeued %d outbox rows that were in flight", requeued)
        self._me = await self.db.reader.run(store.get_me)
        self._cursor = await self.db.reader.run(store.cursor_of)
        synced = await self.db.reader.run(store.get_meta, "last_synced_at")
        self._last_synced_at = parse_ts(synced)
        await self._refresh_counts(emit=False)
        if self.relay_url and self._token:
            self._client = RelayClient(self.relay_url, self._token,
                                       timeout=self._request_timeout, transport=self._transport)
            self._set_state(SyncState.CONNECTING)
            self._tasks = [
                asyncio.create_task(self._sync_loop(), name="w2t-sync"),
                asyncio.create_task(self._outbox_loop(), name="w2t-outbox"),
            ]
        else:
            self._set_state(SyncState.OFFLINE, "no relay configured")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        tasks = [*self._tasks, *self._deliveries.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._deliveries.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._db is not None:
            db, self._db = self._db, None
            # rows cancelled mid-flight go back to the queue now rather than at next start
            with contextlib.suppress(Exception):
                await db.writer.run(store.requeue_inflight)
            await asyncio.to_thread(db.close)
        _unlock_store(self._lock)
        self._lock = None
        self._caught_up.clear()
        self._set_state(SyncState.STOPPED)

    async def set_token(self, token: str) -> None:
        """Use a new staff key (after auth_required); reconnects at once."""
        self._token = token
        if self._db is None or not self.relay_url:
            return
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
        self._client = RelayClient(self.relay_url, token, timeout=self._request_timeout,
                                   transport=self._transport)
        self._tasks = [
            asyncio.create_task(self._sync_loop(), name="w2t-sync"),
            asyncio.create_task(self._outbox_loop(), name="w2t-outbox"),
        ]

    # ------------------------------------------------------------------ listeners/status

    def add_listener(self, listener: EngineListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EngineListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_event(event)
            except Exception:  # a faulty listener must not stop syncing
                log.exception("engine listener failed on %s", type(event).__name__)

    def status(self) -> SyncStatus:
        return SyncStatus(
            state=self._state, pending=self._pending, failed=self._failed,
            last_error=self._last_error, cursor=self._cursor,
            last_synced_at=self._last_synced_at,
        )

    @property
    def me(self) -> Me | None:
        return self._me

    @property
    def caught_up(self) -> bool:
        return self._caught_up.is_set()

    def _set_state(self, state: SyncState, error: str | None = None) -> None:
        changed = state is not self._state or (error is not None and error != self._last_error)
        self._state = state
        if error is not None:
            self._last_error = error
        elif state is SyncState.ONLINE:
            self._last_error = None
        if changed:
            self._emit(StatusChanged(self.status()))

    async def _refresh_counts(self, emit: bool = True) -> None:
        if self._db is None:
            return
        pending, failed = await self.db.reader.run(store.outbox_counts)
        if (pending, failed) != (self._pending, self._failed):
            self._pending, self._failed = pending, failed
            if emit:
                self._emit(StatusChanged(self.status()))
        self._changed.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Until the outbox has nothing left to deliver and the feed is caught up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            await self._refresh_counts()
            if self._pending == 0 and not self._deliveries and self._caught_up.is_set():
                return True
            if self._state is SyncState.AUTH_REQUIRED:
                return False
            self._changed.clear()
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)

    # ------------------------------------------------------------------ commands

    async def send_message(self, conversation_sid: str, body: str) -> ThreadMessage:
        msg = await self.db.writer.run(store.enqueue_send, conversation_sid, body, self._me)
        self._after_enqueue(conversation_sids={conversation_sid})
        return msg

    async def update_lead(
        self,
        lead_id: str,
        *,
        status: str | _Unset = UNSET,
        assignee_id: str | _Unset | None = UNSET,
        note: str | None = None,
    ) -> LeadDetail:
        kwargs: dict[str, Any] = {"note": note, "me": self._me}
        if not isinstance(status, _Unset):
            kwargs["status"] = status
        if not isinstance(assignee_id, _Unset):
            kwargs["assignee_id"] = assignee_id
            kwargs["assignee_name"] = (
                self._me.name if self._me and assignee_id == self._me.staff_id else None)
        await self.db.writer.run(_enqueue_update, lead_id, kwargs)
        self._after_enqueue(lead_ids={lead_id})
        detail = await self.get_lead(lead_id)
        assert detail is not None
        return detail

    async def mark_read(self, conversation_sid: str) -> None:
        await self.db.writer.run(store.enqueue_mark_read, conversation_sid)
        self._after_enqueue(conversation_sids={conversation_sid})

    async def retry(self, outbox_id: str) -> None:
        row = await self.db.writer.run(store.retry_row, outbox_id, True)
        self._after_enqueue(
            conversation_sids={row.conversation_sid} if row.conversation_sid else set(),
            lead_ids={row.lead_id} if row.lead_id else set())

    async def discard(self, outbox_id: str) -> None:
        row = await self.db.writer.run(store.discard_row, outbox_id)
        self._after_enqueue(
            conversation_sids={row.conversation_sid} if row.conversation_sid else set(),
            lead_ids={row.lead_id} if row.lead_id else set())

    def _after_enqueue(
        self, *, conversation_sids: set[str] | None = None, lead_ids: set[str] | None = None
    ) -> None:
        self._emit(ChangesApplied(
            lead_ids=frozenset(lead_ids or ()),
            conversation_sids=frozenset(conversation_sids or ()), local=True))
        self._wake.set()
        task = asyncio.get_running_loop().create_task(self._refresh_counts())
        task.add_done_callback(_log_task_error)

    # ------------------------------------------------------------------ queries

    async def list_locations(self) -> Sequence[LocationRow]:
        return await self.db.reader.run(store.list_locations, self._me)

    async def list_leads(
        self, filter: LeadFilter, offset: int = 0, limit: int = 100
    ) -> Sequence[LeadRow]:
        return await self.db.reader.run(store.list_leads, filter, offset, limit, self._me)

    async def count_leads(self, filter: LeadFilter) -> int:
        return await self.db.reader.run(store.count_leads, filter, self._me)

    async def get_lead(self, lead_id: str) -> LeadDetail | None:
        return await self.db.reader.run(store.get_lead, lead_id)

    async def thread(
        self, conversation_sid: str, limit: int = 200, before: datetime | None = None
    ) -> Sequence[ThreadMessage]:
        return await self.db.reader.run(store.thread, conversation_sid, limit, before)

    async def search(self, query: str, limit: int = 50) -> Sequence[SearchHit]:
        if not query.strip():
            return []
        return await self.db.reader.run(store.search, query, limit)

    # ------------------------------------------------------------------ sync loop

    async def _apply(self, changes: list[Any], cursor: str | None, catch_up: bool) -> None:
        result = await self.db.writer.run(store.apply_changes, changes, cursor)
        if cursor is not None:
            self._cursor = cursor
        self._last_synced_at = datetime.now(UTC)
        self._emit_applied(result, catch_up)

    async def _apply_lead(self, lead: ReceivedChange) -> None:
        """A lead the relay answered with, mirrored like a change of the feed."""
        result = await self.db.writer.run(store.apply_received, [lead])
        self._emit_applied(result, catch_up=False)

    def _emit_applied(self, result: store.ApplyResult, catch_up: bool) -> None:
        """The listener events of one applied batch."""
        if not result.empty:
            self._emit(ChangesApplied(
                lead_ids=frozenset(result.lead_ids),
                conversation_sids=frozenset(result.conversation_sids),
                message_sids=frozenset(result.message_sids),
                location_ids=frozenset(result.location_ids),
                initial_catch_up=catch_up,
            ))
        if result.inbound:
            self._emit(InboundMessages(tuple(result.inbound), during_catch_up=catch_up))

    async def _stream_batches(
        self, client: RelayClient
    ) -> AsyncGenerator[list[ServerSentEvent], None]:
        """The live stream's events, grouped: every event already received, up to a bound.

        A reader task keeps receiving while a batch is applied, so under a burst
        the next batch holds everything that arrived meanwhile (one writer job,
        one transaction and one listener event per batch instead of per change);
        a lone event is handed on at once, with no added wait.
        """
        queue: asyncio.Queue[ServerSentEvent | Exception] = asyncio.Queue(
            maxsize=STREAM_QUEUE_EVENTS)

        async def read() -> None:
            try:
                async for sse in client.stream(self._cursor, self.heartbeat_timeout):
                    await queue.put(sse)
            except Exception as exc:  # handed to the sync loop, which classifies it
                await queue.put(exc)

        reader = asyncio.create_task(read(), name="w2t-stream-reader")
        try:
            while True:
                item = await queue.get()
                batch: list[ServerSentEvent] = []
                size = 0
                while True:
                    if isinstance(item, Exception):
                        if batch:  # apply what arrived before the error first
                            yield batch
                        raise item
                    batch.append(item)
                    size += len(item.data)
                    if (len(batch) >= STREAM_BATCH_EVENTS or size >= STREAM_BATCH_BYTES
                            or queue.empty()):
                        break
                    item = queue.get_nowait()
                yield batch
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _apply_stream(self, events: list[ServerSentEvent]) -> None:
        """Apply a batch of stream events as one transaction, cursor included.

        JSON parsing happens in the writer job too: nothing per change runs on
        the event loop (the UI thread in the desktop app).
        """
        result, cursor = await self.db.writer.run(_apply_stream_events, events, self._cursor)
        if cursor is not None:
            self._cursor = cursor
        self._last_synced_at = datetime.now(UTC)
        if result is not None:
            self._emit_applied(result, catch_up=False)

    async def _catch_up(self, client: RelayClient) -> None:
        while True:
            batch = await client.changes(self._cursor, self.batch_size)
            await self._apply(batch.changes, batch.cursor, catch_up=True)
            if not batch.has_more:
                return

    async def _sync_loop(self) -> None:
        client = self._client
        assert client is not None
        attempt = 0
        while not self._stopping:
            try:
                if self._state is not SyncState.ONLINE:
                    self._set_state(SyncState.CONNECTING)
                staff = await client.me()
                self._me, touched = await self.db.writer.run(store.save_me, staff)
                if touched:
                    self._emit(ChangesApplied(location_ids=frozenset(touched),
                                              initial_catch_up=True))
                self._set_state(SyncState.SYNCING)
                await self._catch_up(client)
                self._caught_up.set()
                self._changed.set()
                self._set_state(SyncState.ONLINE)
                # (re)connected: rows backing off while the relay was away go now
                await self.db.writer.run(store.expedite_pending)
                self._wake.set()
                # closed on the way out, so its reader task never outlives the stream
                async with contextlib.aclosing(self._stream_batches(client)) as batches:
                    async for batch in batches:
                        attempt = 0
                        await self._apply_stream(batch)
            except asyncio.CancelledError:
                raise
            except RelayAuthError as exc:
                self._caught_up.clear()
                self._set_state(SyncState.AUTH_REQUIRED, str(exc))
                self._changed.set()
                await asyncio.sleep(AUTH_RETRY_SECONDS)
            except (RelayTransientError, RelayFinalError) as exc:
                if isinstance(exc, RelayFinalError) and exc.status == 403:
                    # a known key without the staff API (e.g. a website key): the
                    # user has to provide a staff key, retrying will not help
                    self._caught_up.clear()
                    self._set_state(SyncState.AUTH_REQUIRED, f"{exc.reason}: {exc.message}")
                    self._changed.set()
                    await asyncio.sleep(AUTH_RETRY_SECONDS)
                    continue
                if isinstance(exc, RelayFinalError) and exc.reason == "invalid_cursor":
                    # the relay no longer knows our position (its log was reset):
                    # start over from the beginning; applying is idempotent
                    log.warning("relay refused the cursor; catching up from the start")
                    self._cursor = None
                    await self.db.writer.run(store.set_meta, "cursor", "")
                attempt += 1
                self._caught_up.clear()
                self._set_state(SyncState.OFFLINE, str(exc))
                await asyncio.sleep(self.reconnect_backoff.delay(
                    attempt, getattr(exc, "retry_after", None)))
            except Exception as exc:  # e.g. a disk error: keep trying, never die silently
                log.exception("sync loop error")
                attempt += 1
                self._caught_up.clear()
                self._set_state(SyncState.OFFLINE, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.reconnect_backoff.delay(attempt))

    # ------------------------------------------------------------------ outbox

    async def _outbox_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                room = self.max_parallel - len(self._deliveries)
                next_at: float | None = None
                if room > 0:
                    heads, next_at = await self.db.reader.run(
                        store.due_heads, list(self._deliveries), room)
                    for row in heads:
                        task = asyncio.create_task(self._deliver(row),
                                                   name=f"w2t-deliver:{row.lane}")
                        self._deliveries[row.lane] = task
                timeout = None if next_at is None else max(0.0, next_at - time.time())
                if timeout is None or timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher error")
                await asyncio.sleep(1.0)

    async def _deliver(self, row: store.OutboxRow) -> None:
        try:
            if not await self.db.writer.run(store.mark_inflight, row.outbox_id):
                return  # discarded or taken meanwhile
            await self._deliver_once(row, row.attempts + 1)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery of outbox row %s failed unexpectedly", row.outbox_id)
            with contextlib.suppress(Exception):
                await self.db.writer.run(store.mark_retry, row.outbox_id,
                                         self.backoff.delay(row.attempts + 1), "internal error")
        finally:
            self._deliveries.pop(row.lane, None)
            self._wake.set()
            if not self._stopping:
                with contextlib.suppress(Exception):
                    await self._refresh_counts()

    async def _deliver_once(self, row: store.OutboxRow, attempt: int) -> None:
        client = self._client
        assert client is not None
        try:
            response: dict[str, Any] | None = None
            if row.kind == store.SEND_MESSAGE:
                response = await client.send_message(
                    str(row.conversation_sid), str(row.payload["body"]), row.idempotency_key)
            elif row.kind == store.UPDATE_LEAD:
                response = await client.patch_lead(
                    str(row.lead_id), row.payload["patch"], int(row.payload["baseVersion"]),
                    row.idempotency_key)
            elif row.kind == store.MARK_READ:
                await client.mark_read(str(row.conversation_sid), row.idempotency_key)
            else:
                await self._fail(row, "unknown_operation", f"unknown outbox kind {row.kind}")
                return
        except RelayTransientError as exc:
            delay = self.backoff.delay(attempt, exc.retry_after)
            await self.db.writer.run(store.mark_retry, row.outbox_id, delay, str(exc))
            return
        except RelayAuthError as exc:
            self._set_state(SyncState.AUTH_REQUIRED, str(exc))
            await self.db.writer.run(store.mark_retry, row.outbox_id, AUTH_RETRY_SECONDS,
                                     str(exc))
            return
        except RelayFinalError as exc:
            if exc.status == 412 and row.kind == store.UPDATE_LEAD:
                await self._on_conflict(row, exc, attempt)
                return
            await self._fail(row, exc.reason, exc.message)
            return
        if row.kind == store.UPDATE_LEAD:
            lead = lead_answer(response)
            if lead is not None:
                await self._apply_lead(lead)
        await self._delivered(row, accepted_message(response)
                              if row.kind == store.SEND_MESSAGE else None)

    async def _delivered(self, row: store.OutboxRow, accepted: MessageView | None) -> None:
        result = await self.db.writer.run(store.mark_delivered, row, accepted)
        sid = next(iter(result.message_sids), None)
        self._emit(OutboxItemDelivered(
            outbox_id=row.outbox_id, kind=row.kind, conversation_sid=row.conversation_sid,
            lead_id=row.lead_id, local_message_id=row.local_message_id, message_sid=sid))
        self._emit(ChangesApplied(
            lead_ids=frozenset({row.lead_id} if row.lead_id else ()),
            conversation_sids=frozenset({row.conversation_sid} if row.conversation_sid else ()),
            message_sids=frozenset(result.message_sids), local=True))

    async def _fail(self, row: store.OutboxRow, reason: str, message: str) -> None:
        await self.db.writer.run(store.mark_failed, row.outbox_id, reason, message)
        self._emit(OutboxItemFailed(
            outbox_id=row.outbox_id, kind=row.kind, conversation_sid=row.conversation_sid,
            lead_id=row.lead_id, reason=reason, message=message,
            local_message_id=row.local_message_id))
        self._emit(ChangesApplied(
            lead_ids=frozenset({row.lead_id} if row.lead_id else ()),
            conversation_sids=frozenset({row.conversation_sid} if row.conversation_sid else ()),
            local=True))

    async def _on_conflict(self, row: store.OutboxRow, exc: RelayFinalError,
                           attempt: int) -> None:
        """412: someone else changed the lead since our edit was based on it.

        The relay's current lead is mirrored first. An edit that touches only
        fields the other side left alone (or a note, or a user-confirmed retry)
        is re-based on the current version and sent again; an edit of a field
        the other side changed to something else is a conflict for the user.
        """
        answered = lead_answer(exc.body.get("current"))
        current: LeadView | None
        if answered is not None:
            await self._apply_lead(answered)
            assert isinstance(answered.change, LeadChange)
            current = answered.change.data
        else:
            current = await self.db.reader.run(store.relay_lead, str(row.lead_id))
        if current is None:
            await self._fail(row, "version_conflict", exc.message)
            return
        payload = dict(row.payload)
        patch = dict(payload["patch"])
        base = dict(payload.get("base", {}))
        now_values = {"status": current.pipeline_status.value, "assigneeId": current.assignee_id}
        conflicts = [
            name for name in ("status", "assigneeId")
            if name in patch and now_values[name] != base.get(name)
            and now_values[name] != patch[name]
        ]
        if conflicts and not payload.get("force"):
            await self._fail(
                row, "version_conflict",
                "this lead was changed on another desktop ("
                + ", ".join("pipeline status" if c == "status" else "assignee"
                            for c in conflicts)
                + "); retry to apply your change anyway")
            return
        for name in ("status", "assigneeId"):
            if name in patch and now_values[name] == patch[name]:
                del patch[name]
        if not patch:
            await self._delivered(row, None)
            return
        version = current.version
        if version <= int(payload["baseVersion"]) and attempt > 3:
            await self._fail(row, "version_conflict", exc.message)
            return
        payload.update(patch=patch, baseVersion=version,
                       base={k: now_values[k] for k in patch if k in now_values})
        await self.db.writer.run(store.rebase_row, row.outbox_id, payload)


def _apply_stream_events(
    conn: Any, events: Sequence[ServerSentEvent], known_cursor: str | None
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


def _lock_store(data_dir: Path) -> FileLock:
    """One running engine per store: two would deliver one outbox out of order.

    An OS lock (flock, or LockFileEx on Windows) that goes away with the
    process, so a crash never leaves the store locked. (`web2text-sync
    send`/`status` do not take it.)
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # thread_local=False: the UI may stop the engine from another thread than started it.
    # No soft-lock fallback on a file system without OS locks: a plain lock file would
    # outlive a crash and keep the store "in use" until someone deleted it.
    lock = FileLock(data_dir / "engine.lock", mode=0o600, thread_local=False,
                    fallback_to_soft=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise EngineError("store_in_use",
                          f"another engine is already running on {data_dir}") from None
    except OSError as exc:
        raise EngineError("store_lock_unavailable",
                          f"the file system of {data_dir} cannot lock files ({exc.strerror})"
                          ) from None
    return lock


def _unlock_store(lock: FileLock | None) -> None:
    if lock is not None:
        lock.release()


def _enqueue_update(conn: Any, lead_id: str, kwargs: dict[str, Any]) -> str:
    return store.enqueue_update_lead(conn, lead_id, **kwargs)


def _log_task_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("engine task failed: %r", task.exception())


if TYPE_CHECKING:  # mypy proves that SyncEngine implements the UI's Engine protocol

    def _implements_engine(engine: SyncEngine) -> Engine:
        return engine

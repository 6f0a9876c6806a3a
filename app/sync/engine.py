"""`SyncEngine`: the desktop's embedded sync engine (implements `app.sync.api.Engine`).

Runs on whatever asyncio loop calls `start()` (the qasync loop in the desktop,
`asyncio.run` in `web2text-sync`). All SQLite work happens on two worker
threads (one writer, one reader; see `app.sync.db`), so the loop never blocks
on the disk. Two background tasks do the syncing: following the feed
(`app.sync.follow`) and delivering the outbox (`app.sync.delivery`); this
module starts and stops them, runs the UI's commands (its reads are its base
class's, `app.sync.engine_queries`), and keeps the status (`app.sync.status`).
The store itself, through damage and storage problems, is the `StoreKeeper`'s
(`app.sync.keeper`); the relay's time is the `RelayClock`'s (`app.sync.clock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from filelock import FileLock

from app.core.relay_url import InsecureRelayUrl, check_relay_url
from app.sync import store
from app.sync.api import (
    UNSET,
    Engine,
    EngineError,
    EngineListener,
    LeadDetail,
    Me,
    NewConversation,
    SyncState,
    ThreadMessage,
    _Unset,
)
from app.sync.client import (
    RelayAuthError,
    RelayClient,
    RelayError,
    RelayFinalError,
    RelayTransientError,
)
from app.sync.clock import RelayClock
from app.sync.db import Database
from app.sync.delivery import OutboxDispatcher
from app.sync.engine_queries import EngineQueries
from app.sync.follow import FeedFollower
from app.sync.history import History
from app.sync.inbox import parse_ts
from app.sync.keeper import StoreKeeper
from app.sync.media import MediaCache, MediaPrefetcher, StagedAttachment, stage_attachment
from app.sync.repair import report_of
from app.sync.retry import Backoff
from app.sync.status import EngineStatus
from app.sync.storage import StorageError, StoreDamaged, classify
from app.sync.store_lock import lock_store, unlock_store

log = logging.getLogger(__name__)


class SyncEngine(EngineQueries):
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
        local_clock: Callable[[], float] = time.time,
        storage_probe_interval: float = 2.0,
    ) -> None:
        """`local_clock`: this PC's clock (tests give a wrong one); the engine's times
        are the relay's (`RelayClock`). `storage_probe_interval`: the first wait before
        a data folder that took no write is tried again (doubling up to 30 s)."""
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
        self._status = EngineStatus()
        self.clock = RelayClock(local_clock)
        self.clock.on_change = self._clock_changed
        self._status.now = self.clock.now_dt
        self._keeper = StoreKeeper(self.data_dir, self._status, self.clock,
                                   pause=self._pause, carry_on=self._carry_on,
                                   probe_interval=storage_probe_interval)
        self._client: RelayClient | None = None
        self._history = History(self._keeper, self._status)
        self._follower: FeedFollower | None = None
        self._outbox: OutboxDispatcher | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._me: Me | None = None
        self._lock: FileLock | None = None
        self.media = MediaCache(self.data_dir)
        self.prefetch = MediaPrefetcher(self.media, self._fetch_media)

    # ------------------------------------------------------------------ lifecycle

    @property
    def db(self) -> Database:
        if self._keeper.db is None:
            raise EngineError("not_started", "the engine is not started")
        return self._keeper.db

    @property
    def started(self) -> bool:
        return self._lock is not None

    async def start(self) -> None:
        """Open the store (repaired if damaged) and start syncing. Raises `EngineError`:
        `store_in_use`, or a `StorageError` when the data folder takes no writes."""
        if self.started:
            return
        self._history.bind(asyncio.get_running_loop())
        self._lock = lock_store(self.data_dir)
        try:
            await self._keeper.open()
        except BaseException:
            await self._keeper.close()
            unlock_store(self._lock)
            self._lock = None
            raise
        try:
            await self._carry_on()
        except (StoreDamaged, StorageError) as exc:
            # the store opened but meets damage or a storage problem right away: the
            # keeper repairs or waits it out, and carries on itself
            self._keeper.recover(exc)

    async def _carry_on(self) -> None:
        """Start (or, after a repair or a storage problem, start again) on the store."""
        await self._load_state()
        self._follower, self._outbox = self._workers(self.db)
        insecure = _insecure_url(self.relay_url)
        if insecure:
            self._status.set_state(SyncState.OFFLINE, insecure)  # the key is not sent in clear
        elif self.relay_url and self._token:
            self._status.set_state(SyncState.CONNECTING)
            self._start_tasks(self.relay_url, self._token)
        else:
            self._status.set_state(SyncState.OFFLINE, "no relay configured")

    async def _pause(self) -> None:
        """The workers stop (deliveries in flight are cancelled; their rows are queued
        again when the engine carries on)."""
        if self._outbox is not None:
            self._outbox.stopped = True
        if self._follower is not None:
            self._follower.stopped = True
        deliveries = self._outbox.cancel() if self._outbox is not None else []
        tasks, self._tasks = [*self._tasks, *deliveries], []
        await self.prefetch.cancel()
        await self._stop_tasks(tasks)
        self._status.set_caught_up(False)

    async def _load_state(self) -> None:
        """What the store remembers: rows left in flight go back to the queue."""
        db = self.db
        requeued = await db.writer.run(store.requeue_inflight)
        if requeued:
            log.info("requeued %d outbox rows that were in flight", requeued)
        self._me = await db.reader.run(store.get_me)
        self._status.cursor = await db.reader.run(store.cursor_of)
        synced = await db.reader.run(store.get_meta, "last_synced_at")
        self._status.last_synced_at = parse_ts(synced)
        offset = await db.reader.run(store.get_meta, "clock_offset")
        if offset:
            self.clock.offset = float(offset)
            self._status.set_clock_offset(self.clock.offset, emit=False)
        report = report_of(await db.reader.run(store.repair_report))
        self._status.set_repair(report, emit=False)
        await self._refresh_counts(emit=False)

    def _workers(self, db: Database) -> tuple[FeedFollower, OutboxDispatcher]:
        follower = FeedFollower(
            db, self._status, batch_size=self.batch_size,
            heartbeat_timeout=self.heartbeat_timeout, reconnect_backoff=self.reconnect_backoff,
            on_me=self._set_me, on_online=self._wake_outbox, on_media=self.prefetch.want)
        outbox = OutboxDispatcher(
            db, self._status, backoff=self.backoff, max_parallel=self.max_parallel,
            apply_lead=follower.apply_lead, refresh_counts=self._refresh_counts)
        outbox.media = self.media
        return follower, outbox

    def _start_tasks(self, relay_url: str, token: str) -> None:
        assert self._follower is not None and self._outbox is not None
        self._client = RelayClient(relay_url, token, timeout=self._request_timeout,
                                   transport=self._transport, clock=self.clock)
        self._outbox.client = self._client
        self._tasks = [
            asyncio.create_task(self._follower.run(self._client), name="w2t-sync"),
            asyncio.create_task(self._outbox.run(), name="w2t-outbox"),
        ]

    async def _stop_tasks(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def stop(self) -> None:
        if self._outbox is not None:
            self._outbox.wake()
        await self._pause()
        await self._history.close()
        if self._keeper.db is not None:
            # rows cancelled mid-flight go back to the queue now rather than at next start
            with contextlib.suppress(Exception):
                await self._keeper.db.writer.run(store.requeue_inflight)
        await self._keeper.close()
        self._follower = self._outbox = None
        unlock_store(self._lock)
        self._lock = None
        self._status.caught_up.clear()
        self._status.set_state(SyncState.STOPPED)

    async def set_token(self, token: str) -> None:
        """Use a new staff key (after auth_required); reconnects at once.

        Deliveries in progress finish with the client they started on.
        """
        self._token = token
        if self._keeper.db is None or not self.relay_url or _insecure_url(self.relay_url) \
                or self._follower is None or self._follower.stopped:
            return
        tasks, self._tasks = self._tasks, []
        await self._stop_tasks(tasks)
        self._start_tasks(self.relay_url, token)

    # ------------------------------------------------------------------ listeners/status

    def add_listener(self, listener: EngineListener) -> None:
        self._status.add_listener(listener)

    def remove_listener(self, listener: EngineListener) -> None:
        self._status.remove_listener(listener)

    def _set_me(self, me: Me) -> None:
        self._me = me

    def _clock_changed(self, offset: float) -> None:
        """The relay's clock is `offset` seconds ahead of this PC's: shown, remembered."""
        log.info("the relay's clock is %.1f s ahead of this PC's", offset)
        self._status.set_clock_offset(offset)
        if self._keeper.db is not None:
            task = asyncio.get_running_loop().create_task(
                self._keeper.write(store.set_meta, "clock_offset", repr(offset)))
            task.add_done_callback(_log_task_error)

    def _wake_outbox(self) -> None:
        if self._outbox is not None:
            self._outbox.wake()

    async def _refresh_counts(self, emit: bool = True) -> None:
        db = self._keeper.db
        if db is None:
            return
        pending, failed = await db.reader.run(store.outbox_counts)
        self._status.set_counts(pending, failed, emit=emit)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Until the outbox has nothing left to deliver and the feed is caught up; False
        on timeout, or when the engine waits for the user (a key, a data folder)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        status = self._status
        while True:
            await self._refresh_counts()
            deliveries = self._outbox.deliveries if self._outbox is not None else {}
            if status.pending == 0 and not deliveries and status.caught_up.is_set():
                return True
            if status.state in (SyncState.AUTH_REQUIRED, SyncState.STORAGE_PROBLEM):
                return False  # (it needs the user: a key, or room on the disk)
            status.progress.clear()
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(status.progress.wait(), wait)

    # ------------------------------------------------------------------ commands

    async def send_message(
        self, conversation_sid: str, body: str, attachment: Path | None = None,
        send_at: datetime | None = None,
    ) -> ThreadMessage:
        staged = None
        if attachment is not None:
            staged = await asyncio.to_thread(self._stage, Path(attachment))
        msg = await self._keeper.write(store.enqueue_send, conversation_sid, body, self._me,
                                       staged, self.clock.now_iso(),
                                       send_at)
        self._after_enqueue(conversation_sids={conversation_sid})
        return msg

    def _stage(self, attachment: Path) -> StagedAttachment:
        """The photo copied into the data folder (blocking); a full, read-only or vanished
        folder refuses it as the store would (`StorageError`)."""
        try:
            return stage_attachment(self.data_dir, attachment)
        except OSError as exc:
            raise classify(exc, self.data_dir) or exc from exc

    async def media_file(self, sid: str) -> Path:
        return await self.media.file(sid, self._fetch_media)

    async def _fetch_media(self, sid: str) -> bytes:
        client = self._client
        if client is None:
            raise EngineError("media_unavailable", "offline: the photo is not here yet")
        try:
            return await client.get_media(sid)
        except RelayError as exc:
            raise EngineError("media_unavailable", str(exc)) from exc

    async def cancel_scheduled(self, message_sid: str) -> None:
        sid = await self._keeper.write(store.enqueue_cancel_scheduled, message_sid)
        self._after_enqueue(conversation_sids={sid})

    async def update_lead(
        self,
        lead_id: str,
        *,
        status: str | _Unset = UNSET,
        assignee_id: str | _Unset | None = UNSET,
        note: str | None = None,
    ) -> LeadDetail:
        kwargs: dict[str, Any] = {"note": note, "me": self._me, "now": self.clock.now_iso()}
        if not isinstance(status, _Unset):
            kwargs["status"] = status
        if not isinstance(assignee_id, _Unset):
            kwargs["assignee_id"] = assignee_id
            kwargs["assignee_name"] = (
                self._me.name if self._me and assignee_id == self._me.staff_id else None)
        await self._keeper.write(_enqueue_update, lead_id, kwargs)
        self._after_enqueue(lead_ids={lead_id})
        detail = await self.get_lead(lead_id)
        assert detail is not None
        return detail

    async def mark_read(self, conversation_sid: str) -> None:
        await self._keeper.write(store.enqueue_mark_read, conversation_sid,
                                 self.clock.now_iso())
        self._after_enqueue(conversation_sids={conversation_sid})

    async def sync_lead(self, lead_id: str) -> None:
        client = self._client
        if client is None:
            raise EngineError("offline", "not connected to the relay")
        try:
            await client.sync_lead(lead_id)
        except RelayFinalError as exc:
            reason = "lead_not_found" if exc.status == 404 else exc.reason
            raise EngineError(reason, exc.message) from None
        except RelayAuthError:
            raise EngineError("unauthorized", "the relay refused this key") from None
        except RelayTransientError as exc:
            raise EngineError("offline", f"the relay cannot take it now ({exc})") from None

    async def dismiss_possible_opt_out(self, lead_id: str) -> None:
        await self._keeper.write(_enqueue_dismiss, lead_id)
        self._after_enqueue(lead_ids={lead_id})

    async def opt_out(self, conversation_sid: str, reason: str) -> None:
        await self._keeper.write(store.enqueue_opt_out, conversation_sid, reason)
        lead_ids = await self._keeper.read(store.leads_of_conversation, conversation_sid)
        self._after_enqueue(conversation_sids={conversation_sid}, lead_ids=lead_ids)

    async def close_lead(self, lead_id: str, reason: str) -> None:
        await self._keeper.write(store.enqueue_close_lead, lead_id, reason)
        self._after_enqueue(lead_ids={lead_id})

    async def create_lead(self, new: NewConversation) -> str:
        lead_id = await self._keeper.write(store.enqueue_create_lead, new, self._me)
        self._after_enqueue(lead_ids={lead_id})
        return lead_id

    async def retry(self, outbox_id: str) -> None:
        row = await self._keeper.write(store.retry_row, outbox_id, True)
        self._after_enqueue(conversation_sids={row.conversation_sid}, lead_ids={row.lead_id})

    async def discard(self, outbox_id: str) -> None:
        row = await self._keeper.write(store.discard_row, outbox_id)
        self._after_enqueue(conversation_sids={row.conversation_sid}, lead_ids={row.lead_id})

    async def acknowledge_repair(self) -> None:
        if self._status.repair is not None:
            await self._keeper.write(store.acknowledge_repair)
            self._status.set_repair(None)

    def _after_enqueue(self, *, conversation_sids: Iterable[str | None] = (),
                       lead_ids: Iterable[str | None] = ()) -> None:
        self._status.changed_here(conversation_sids=conversation_sids, lead_ids=lead_ids)
        self._wake_outbox()
        task = asyncio.get_running_loop().create_task(self._refresh_counts())
        task.add_done_callback(_log_task_error)

def _insecure_url(relay_url: str | None) -> str | None:
    """Why the engine must not send its key to `relay_url` (plain http to another
    host), or None."""
    if not relay_url:
        return None
    try:
        check_relay_url(relay_url)
    except InsecureRelayUrl as exc:
        return str(exc)
    return None


def _enqueue_update(conn: Any, lead_id: str, kwargs: dict[str, Any]) -> str:
    return store.enqueue_update_lead(conn, lead_id, **kwargs)


def _enqueue_dismiss(conn: Any, lead_id: str) -> str:
    return store.enqueue_update_lead(conn, lead_id, possible_opt_out=False)


def _log_task_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("engine task failed: %r", task.exception())


if TYPE_CHECKING:  # mypy proves that SyncEngine implements the UI's Engine protocol

    def _implements_engine(engine: SyncEngine) -> Engine:
        return engine

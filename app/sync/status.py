"""The engine's state as its embedder sees it, and the listeners told of every change.

Listener callbacks run on the engine's event loop; a faulty listener is logged and
never stops syncing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from app.sync.api import (
    ChangesApplied,
    EngineEvent,
    EngineListener,
    InboundMessages,
    RepairReport,
    StatusChanged,
    StorageProblem,
    SyncState,
    SyncStatus,
)
from app.sync.store import ApplyResult

log = logging.getLogger(__name__)


class EngineStatus:
    def __init__(self) -> None:
        self._listeners: list[EngineListener] = []
        self.state = SyncState.STOPPED
        self.pending = 0
        self.failed = 0
        self.last_error: str | None = None
        self.cursor: str | None = None
        self.last_synced_at: datetime | None = None
        self.storage: StorageProblem | None = None
        self.repair: RepairReport | None = None
        self.clock_offset = 0.0
        #: the relay's time (the engine's `RelayClock`)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        #: set while the feed is caught up (cleared when the connection is lost)
        self.caught_up = asyncio.Event()
        #: set whenever counts or the caught-up state may have changed (for waiters)
        self.progress = asyncio.Event()

    # ------------------------------------------------------------------ listeners

    def add_listener(self, listener: EngineListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EngineListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def emit(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_event(event)
            except Exception:  # a faulty listener must not stop syncing
                log.exception("engine listener failed on %s", type(event).__name__)

    # ------------------------------------------------------------------ state

    def snapshot(self) -> SyncStatus:
        return SyncStatus(
            state=self.state, pending=self.pending, failed=self.failed,
            last_error=self.last_error, cursor=self.cursor,
            last_synced_at=self.last_synced_at, storage=self.storage, repair=self.repair,
            clock_offset=self.clock_offset,
        )

    def set_state(self, state: SyncState, error: str | None = None) -> None:
        changed = state is not self.state or (error is not None and error != self.last_error)
        self.state = state
        if error is not None:
            self.last_error = error
        elif state is SyncState.ONLINE:
            self.last_error = None
        if changed:
            self.emit(StatusChanged(self.snapshot()))

    def set_storage(self, problem: StorageProblem | None) -> None:
        """The data folder's problem (None: it takes writes again); listeners hear of it."""
        if problem != self.storage:
            self.storage = problem
            self.emit(StatusChanged(self.snapshot()))

    def set_repair(self, report: RepairReport | None, *, emit: bool = True) -> None:
        """A repair the user has not been told of yet (None once they have)."""
        if report != self.repair:
            self.repair = report
            if emit:
                self.emit(StatusChanged(self.snapshot()))

    def set_clock_offset(self, offset: float, *, emit: bool = True) -> None:
        if offset != self.clock_offset:
            self.clock_offset = offset
            if emit:
                self.emit(StatusChanged(self.snapshot()))

    def set_caught_up(self, caught_up: bool) -> None:
        if caught_up:
            self.caught_up.set()
        else:
            self.caught_up.clear()
        self.progress.set()

    def set_counts(self, pending: int, failed: int, *, emit: bool = True) -> None:
        """The outbox counts; listeners hear of a change."""
        if (pending, failed) != (self.pending, self.failed):
            self.pending, self.failed = pending, failed
            if emit:
                self.emit(StatusChanged(self.snapshot()))
        self.progress.set()

    def synced(self, cursor: str | None) -> None:
        """A batch (or heartbeat) arrived; `cursor` is the position now stored, if it moved."""
        if cursor is not None:
            self.cursor = cursor
        self.last_synced_at = self.now()

    # ------------------------------------------------------------------ change events

    def applied(self, result: ApplyResult, *, catch_up: bool) -> None:
        """The listener events of one batch mirrored from the relay."""
        if not result.empty:
            self.emit(ChangesApplied(
                lead_ids=frozenset(result.lead_ids),
                conversation_sids=frozenset(result.conversation_sids),
                message_sids=frozenset(result.message_sids),
                location_ids=frozenset(result.location_ids),
                thread_sids=frozenset(result.thread_sids),
                initial_catch_up=catch_up,
            ))
        if result.inbound:
            self.emit(InboundMessages(tuple(result.inbound), during_catch_up=catch_up))

    def changed_here(self, *, conversation_sids: Iterable[str | None] = (),
                     lead_ids: Iterable[str | None] = (),
                     message_sids: Iterable[str] = (),
                     location_ids: Iterable[str] = ()) -> None:
        """Rows this desktop changed (a command, an outbox row delivered or refused)."""
        conversations = frozenset(s for s in conversation_sids if s)
        messages = frozenset(message_sids)
        self.emit(ChangesApplied(
            lead_ids=frozenset(i for i in lead_ids if i), conversation_sids=conversations,
            message_sids=messages, location_ids=frozenset(location_ids),
            thread_sids=conversations if messages else frozenset(),
            local=True))

"""The engine's hold on its local store: opening it, and carrying on through damage and
storage problems.

- **Opening**: a repair cut short is finished, the store is opened (migrations), and
  after a shutdown that was not clean it is checked (`PRAGMA quick_check`). Damage
  found on the way is repaired before the engine goes on (`app.sync.repair`).
- **Running**: every store call that meets damage or a storage problem tells the
  keeper (`Database.on_problem`). The keeper pauses the engine's workers, then
  - damage: repairs the store (the file set aside, the outbox salvaged, the mirror
    pulled again) and lets the engine carry on with the new store; commands waiting
    meanwhile run on it;
  - a storage problem (disk full, folder read-only or gone, disk errors): shows it
    (`SyncStatus.storage`, state `storage_problem`) and probes the folder until a
    write goes through (for a full disk, once there is room too), then lets the engine
    carry on. Commands meanwhile fail at once with the problem (`StorageError`), so
    what the user typed stays where it is.

Rows in flight when the workers were paused go back to the queue with their keys,
so the relay answers a resend with its first answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from app.sync import repair
from app.sync.api import EngineError, StorageProblem, SyncState
from app.sync.clock import RelayClock
from app.sync.db import Database
from app.sync.status import EngineStatus
from app.sync.storage import (
    DISK_FULL,
    MISSING,
    READ_ONLY,
    StorageError,
    StoreDamaged,
    free_bytes,
    problem_for,
    room_needed,
)
from app.sync.store import probe_write

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the longest wait between two probes of a data folder that takes no writes
PROBE_CAP_S = 30.0


class StoreKeeper:
    def __init__(
        self,
        data_dir: Path,
        status: EngineStatus,
        clock: RelayClock,
        *,
        pause: Callable[[], Awaitable[None]],
        carry_on: Callable[[], Awaitable[None]],
        probe_interval: float = 2.0,
    ) -> None:
        """`pause` stops the engine's workers; `carry_on` starts them again on `db`."""
        self.data_dir = data_dir
        self._status = status
        self._clock = clock
        self._pause = pause
        self._carry_on = carry_on
        self._probe_interval = probe_interval
        self.db: Database | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._recovery: asyncio.Task[None] | None = None
        #: set while a repair is under way (commands wait for it)
        self._repairing: asyncio.Future[None] | None = None
        self._repair_job: asyncio.Future[Any] | None = None
        self.repairs = 0

    # ------------------------------------------------------------------ open / close

    async def open(self) -> Database:
        """The store, checked and repaired as needed (see the module's docstring)."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(repair.finish_interrupted, self.data_dir)
        unclean = repair.was_unclean(self.data_dir)
        try:
            db = await self._open_checked(check=unclean)
        except StoreDamaged as exc:
            await self._repair(exc.detail)
            db = await self._open_checked(check=False)
        self._adopt(db)
        repair.mark_running(self.data_dir)
        return db

    async def _open_checked(self, *, check: bool) -> Database:
        db = await Database.open_async(self.data_dir)
        if check:
            try:
                await db.reader.run(repair.check_integrity)
            except BaseException:
                await asyncio.to_thread(db.close)
                raise
        return db

    def _adopt(self, db: Database) -> None:
        self.db = db
        db.on_problem(self._problem_seen)

    async def close(self) -> None:
        """Stop recovering (a repair's file work is let finish) and close the store."""
        job, self._repair_job = self._repair_job, None
        if job is not None:
            await asyncio.wait([job])
            if not job.cancelled():
                job.exception()  # (seen by the recovery, or by nobody once it was cut short)
        task, self._recovery = self._recovery, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._repaired()
        db, self.db = self.db, None
        if db is not None:
            db.on_problem(None)
            await asyncio.to_thread(db.close)
        if self._loop is not None:
            repair.mark_stopped(self.data_dir)
            self._loop = None

    # ------------------------------------------------------------------ store calls

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(False, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(True, fn, args)

    async def _call(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """One store call; after damage, again on the repaired store (once).

        Reads may come from another thread's loop (the desktop reads on its own): the
        keeper's state belongs to the engine's loop, so from elsewhere a repair is started
        and waited for there."""
        for attempt in (1, 2):
            await self._repair_done()
            db = self.db
            if db is None:
                if self._status.storage is not None:  # a repair waits for room
                    raise StorageError(self._status.storage)
                raise EngineError("not_started", "the engine is not started")
            try:
                return await (db.writer if write else db.reader).run(fn, *args)
            except StoreDamaged as exc:
                if attempt == 2:
                    raise
                await self._on_engine_loop(self._recover_now, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _repair_done(self) -> None:
        """Until a repair under way is done (a plain read of `_repairing` first: no hop
        to the engine's loop while there is no repair)."""
        if self._repairing is not None:
            await self._on_engine_loop(self._repair_awaited)

    async def _repair_awaited(self) -> None:
        if self._repairing is not None:
            await asyncio.shield(self._repairing)

    async def _recover_now(self, problem: EngineError) -> None:
        self.recover(problem)

    async def _on_engine_loop(self, fn: Callable[..., Coroutine[Any, Any, None]],
                              *args: Any) -> None:
        """`await fn(*args)` on the engine's loop, from it or from any other loop."""
        loop = self._loop
        coro = fn(*args)
        if loop is None or loop is asyncio.get_running_loop():
            await coro
            return
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:  # the engine's loop closed meanwhile: the engine stopped
            coro.close()
            return
        await asyncio.wrap_future(future)

    # ------------------------------------------------------------------ problems

    def _problem_seen(self, problem: EngineError) -> None:
        """From a store thread: hand the problem to the engine's loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.recover, problem)

    def recover(self, problem: EngineError) -> None:
        """Start recovering, unless a recovery runs already (a repair wins over waiting
        out a storage problem: that wait is cut short)."""
        if self.db is None and self._recovery is None:
            return  # closed, or not open yet
        damaged = isinstance(problem, StoreDamaged)
        running = self._recovery is not None and not self._recovery.done()
        if running and not (damaged and self._repairing is None):
            return
        if running:
            assert self._recovery is not None
            self._recovery.cancel()
        if damaged:
            self._repairing = asyncio.get_running_loop().create_future()
        self._recovery = asyncio.create_task(self._recover(problem), name="w2t-recovery")

    async def _recover(self, problem: EngineError) -> None:
        """Pause the workers; repair or wait out each problem until the engine carries on.

        A repair that meets a storage problem (no room for the new store) is tried again
        once the folder takes writes."""
        damage: str | None = None  # still to repair
        try:
            await self._pause()
            while True:
                try:
                    if isinstance(problem, StoreDamaged):
                        damage = problem.detail
                    elif isinstance(problem, StorageError):
                        await self._wait_for_storage(problem.problem)
                    if damage is not None:
                        await self._rebuild(damage)
                        damage = None
                    await self._carry_on()
                    self._status.set_storage(None)
                    return
                except (StoreDamaged, StorageError) as exc:
                    problem = exc
                    if isinstance(exc, StoreDamaged) and self._repairing is None:
                        self._repairing = asyncio.get_running_loop().create_future()
                    await self._pause()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. a repair that cannot write its new store
            log.exception("recovering the local store failed")
            self._status.set_state(SyncState.STORAGE_PROBLEM, f"local store: {exc}")
        finally:
            if self._recovery is asyncio.current_task():
                self._recovery = None
                self._repaired()

    def _repaired(self) -> None:
        repairing, self._repairing = self._repairing, None
        if repairing is not None and not repairing.done():
            repairing.set_result(None)

    async def _rebuild(self, detail: str) -> None:
        """The store's connections closed, the store repaired and opened again."""
        self._status.set_state(SyncState.REPAIRING, "repairing the local store")
        db, self.db = self.db, None
        if db is not None:
            db.on_problem(None)
            await asyncio.to_thread(db.close)
        await self._repair(detail)
        self._adopt(await self._open_checked(check=False))
        self._status.set_storage(None)
        self._repaired()

    async def _repair(self, detail: str) -> None:
        # (shielded: a stop meanwhile waits for the files to be in place, see close)
        job = self._repair_job = asyncio.ensure_future(asyncio.to_thread(
            repair.repair_store, self.data_dir, detail, self._clock.now_dt()))
        try:
            report = await asyncio.shield(job)
        finally:
            if job.done():
                self._repair_job = None
        self.repairs += 1
        self._status.set_repair(report)

    async def _wait_for_storage(self, problem: StorageProblem) -> None:
        """Show the problem and probe the folder until it takes writes again."""
        self._repaired()  # commands waiting for a repair go on (and meet this problem)
        self._status.set_storage(problem)
        self._status.set_caught_up(False)
        self._status.set_state(SyncState.STORAGE_PROBLEM, _short(problem))
        delay = self._probe_interval
        current: StorageProblem | None = problem
        while current is not None:
            await asyncio.sleep(delay)
            delay = min(PROBE_CAP_S, delay * 2)
            current = await self._probe(current)
            if current is not None and current != self._status.storage:
                self._status.set_storage(current)
                self._status.set_state(SyncState.STORAGE_PROBLEM, _short(current))
        log.info("the data folder takes writes again (%s cleared)", problem.reason)

    def _unwritable(self, problem: StorageProblem) -> StorageProblem | None:
        """Without a store open: the folder's problem as it is now, or None."""
        folder = self.data_dir
        if not folder.is_dir():
            return problem_for(MISSING, folder)
        if not os.access(folder, os.W_OK):
            return problem_for(READ_ONLY, folder)
        free = free_bytes(folder)
        if free is not None and free < room_needed(folder):
            return problem_for(DISK_FULL, folder)
        return None

    async def _probe(self, problem: StorageProblem) -> StorageProblem | None:
        """None once a write goes through (and, for a full disk, there is room); else
        the problem as it is now."""
        db = self.db
        if db is None:  # closed for a repair that could not finish: is there room now?
            return await asyncio.to_thread(self._unwritable, problem)
        if problem.reason == DISK_FULL:
            free = await asyncio.to_thread(free_bytes, self.data_dir)
            if free is not None and free < await asyncio.to_thread(room_needed, self.data_dir):
                return await asyncio.to_thread(problem_for, DISK_FULL, self.data_dir)
        try:
            await db.reconnect()
            await db.writer.run(probe_write, self._clock.now_iso())
        except StorageError as exc:
            return exc.problem
        return None


def _short(problem: StorageProblem) -> str:
    """The status line's text (the whole story is `problem.message`)."""
    return f"cannot save in {problem.folder}: {problem.reason.replace('_', ' ')}"

"""ThreadedEngine: the engine's coroutines run on its own thread and loop, its events
reach the listeners on the Qt thread in order, cancelling a wait cancels the engine's
work, and stopping ends the thread. (The end-to-end tests drive the real SyncEngine
through it: the app's default engine factory wraps it.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from app.sync.api import ChangesApplied, EngineEvent, LeadFilter, LeadRow, SyncState
from app.ui.engine_host import ThreadedEngine
from app.ui.engine_lifecycle import default_engine_factory
from app.ui.profiles import Profile
from tests.ui.fake_engine import FakeEngine, demo_engine


class ThreadRecordingEngine(FakeEngine):
    def __init__(self) -> None:
        base = demo_engine()
        super().__init__(base.me)
        self.__dict__.update(
            {k: v for k, v in base.__dict__.items() if k not in ("listeners", "calls")}
        )
        self.threads: list[str] = []
        self.cancelled = False

    async def list_leads(
        self, filter: LeadFilter, offset: int = 0, limit: int = 100
    ) -> Sequence[LeadRow]:
        self.threads.append(threading.current_thread().name)
        return await super().list_leads(filter, offset, limit)

    async def mark_read(self, conversation_sid: str) -> None:
        try:
            await asyncio.sleep(30)  # a slow command the UI stops waiting for
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, EngineEvent]] = []

    def on_event(self, event: EngineEvent) -> None:
        self.events.append((threading.current_thread().name, event))


def test_engine_runs_on_its_own_thread_and_events_reach_the_qt_thread(
    qtbot: Any, loop: Any, run: Any
) -> None:
    inner = ThreadRecordingEngine()
    engine = ThreadedEngine(inner, name="w2t-engine-test")
    rec = Recorder()
    engine.add_listener(rec)
    run(engine.start())
    assert engine.status().state is SyncState.ONLINE and engine.me == inner.me
    rows = run(engine.list_leads(LeadFilter(), 0, 100))
    assert [r.lead_id for r in rows] == [
        r.lead_id for r in run(inner.list_leads(LeadFilter(), 0, 100))
    ]
    assert inner.threads[0] == "w2t-engine-test"  # not the Qt thread
    qt_thread = threading.current_thread().name

    # events raised on the engine's loop arrive here, on the Qt thread, in order
    def burst() -> None:
        for i in range(50):
            inner.emit(ChangesApplied(lead_ids=frozenset({f"lead-{i}"})))

    assert engine._loop is not None
    engine._loop.call_soon_threadsafe(burst)
    qtbot.waitUntil(lambda: len([e for _, e in rec.events if isinstance(e, ChangesApplied)]) == 50)
    changes = [(t, e) for t, e in rec.events if isinstance(e, ChangesApplied)]
    assert {t for t, _ in changes} == {qt_thread}
    assert [next(iter(e.lead_ids)) for _, e in changes] == [f"lead-{i}" for i in range(50)]

    # the UI giving up on a command cancels it in the engine too
    task = asyncio.ensure_future(engine.mark_read("CH1"))
    qtbot.wait(50)
    task.cancel()
    qtbot.waitUntil(lambda: inner.cancelled)

    # a listener removed gets nothing more
    engine.remove_listener(rec)
    before = len(rec.events)
    engine._loop.call_soon_threadsafe(burst)
    qtbot.wait(100)
    assert len(rec.events) == before

    thread = engine._thread
    assert thread is not None and thread.is_alive()
    run(engine.stop())
    assert inner.stopped and not thread.is_alive()


def test_the_apps_engine_factory_runs_the_sync_engine_off_the_qt_thread(
    tmp_path: Any, qtbot: Any, loop: Any, run: Any
) -> None:
    from app.sync.engine import SyncEngine

    profile = Profile("staff-1", "Dana", "http://127.0.0.1:9", "ret-1")  # nothing listens
    engine = default_engine_factory(profile, "key", tmp_path)
    assert isinstance(engine, ThreadedEngine) and isinstance(engine.inner, SyncEngine)
    run(engine.start(), timeout=20000)
    assert run(engine.count_leads(LeadFilter())) == 0
    run(engine.stop(), timeout=20000)
    assert engine.status().state is SyncState.STOPPED


def test_queries_read_the_store_without_the_engines_loop(
    tmp_path: Any, qtbot: Any, loop: Any, run: Any
) -> None:
    """The real engine's queries are answered while its loop is busy (say, with a burst
    of the stream): they read the store on its reader thread, straight from here."""
    import time

    profile = Profile("staff-1", "Dana", "http://127.0.0.1:9", "ret-1")
    engine = default_engine_factory(profile, "key", tmp_path)
    assert isinstance(engine, ThreadedEngine)
    run(engine.start(), timeout=20000)
    try:
        assert engine._loop is not None
        busy = threading.Event()

        def block() -> None:
            busy.set()
            time.sleep(2.0)

        engine._loop.call_soon_threadsafe(block)
        assert busy.wait(5)
        started = time.monotonic()
        assert run(engine.count_leads(LeadFilter())) == 0
        assert run(engine.thread("CH1")) == []
        assert time.monotonic() - started < 1.5  # not after the engine's loop is free
    finally:
        run(engine.stop(), timeout=20000)

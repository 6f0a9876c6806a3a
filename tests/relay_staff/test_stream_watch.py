"""`HeadWatch` (app/relay/stream.py) over a fake change-log port: the in-process
wake-up never waits behind a head read, a fresh head is not read again, and a change
announced while a stream is not asleep cuts its next sleep short.
(The real log and streams: test_feed_api.py.)"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable

import pytest

from app.relay.app import build_context
from app.relay.config import Settings
from app.relay.stream import HeadWatch


class SlowLog:
    """The two ChangeLog methods the watch uses; `heads` blocks until released."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[str, int], None]] = []
        self.release = threading.Event()
        self.reading = threading.Event()
        self.values: dict[str, int] = {"L1": 5, "L2": 1}
        self.reads = 0

    def on_appended(self, listener: Callable[[str, int], None]) -> None:
        self.listeners.append(listener)

    def heads(self, locations: Iterable[str]) -> dict[str, int]:
        self.reads += 1
        self.reading.set()
        assert self.release.wait(5)
        return {loc: self.values.get(loc, 0) for loc in locations}

    def announce(self, location: str, seq: int) -> None:
        for listener in self.listeners:
            listener(location, seq)


def test_an_append_is_not_held_up_by_a_slow_head_read() -> None:
    log = SlowLog()
    watch = HeadWatch(log, max_age=30.0)  # type: ignore[arg-type]
    reader = threading.Thread(target=watch.heads, args=(["L1"],))
    reader.start()
    assert log.reading.wait(5)  # the read is in DynamoDB now
    # what ChangeLog.append does once its change is stored: it must finish while the
    # read is still held (were it waiting on the read, it could not finish before
    # the release below)
    appender = threading.Thread(target=log.announce, args=("L1", 9))
    appender.start()
    appender.join(10)
    assert not appender.is_alive(), "the announce waited for the slow head read"
    log.release.set()
    reader.join(5)
    assert watch.heads(["L1"]) == {"L1": 5}  # cached by the read
    log.announce("L1", 9)  # an announce raises the cached head, no read needed
    log.release.clear()
    assert watch.heads(["L1"]) == {"L1": 9}


def test_a_change_announced_between_sleeps_cuts_the_next_sleep_short() -> None:
    """Each sleep asks for LONG seconds; being cut short shows as returning within
    the wait_for bound, far below LONG, however busy the machine."""
    log = SlowLog()
    log.release.set()
    watch = HeadWatch(log, max_age=0.2)  # type: ignore[arg-type]
    long, bound = 60.0, 20.0

    async def scenario() -> float:
        mark = watch.mark(["L1"])
        log.announce("L1", 6)  # while the stream reads / sends, not asleep
        await asyncio.wait_for(watch.sleep(["L1"], long, mark), bound)
        # asleep: woken by an announce of its location from another thread
        mark = watch.mark(["L1"])
        sleeping = asyncio.ensure_future(watch.sleep(["L1"], long, mark))
        while not watch._sleepers:  # it is asleep now
            await asyncio.sleep(0.01)
        threading.Thread(target=log.announce, args=("L1", 7)).start()
        await asyncio.wait_for(sleeping, bound)
        # another location's change does not wake it
        mark = watch.mark(["L1"])
        threading.Timer(0.05, log.announce, ("L2", 3)).start()
        t = time.monotonic()
        await watch.sleep(["L1"], 0.4, mark)
        return time.monotonic() - t

    other = asyncio.run(scenario())
    assert other >= 0.35  # slept its full time: a lower bound holds on any machine
    assert watch._sleepers == set()  # every sleeper left


def test_one_watch_per_app_listening_to_its_change_log() -> None:
    settings = Settings(table_prefix="TESTWATCH", dynamodb_endpoint="http://127.0.0.1:9")
    ctx = build_context(settings.with_overrides(stream_poll_s=0.5))
    assert ctx.head_watch.max_age == pytest.approx(0.45)  # a little younger than a poll
    assert ctx.change_log._appended == [ctx.head_watch._appended]


def test_heads_are_read_again_only_once_stale() -> None:
    log = SlowLog()
    log.release.set()
    now = [0.0]
    watch = HeadWatch(log, max_age=0.2, clock=lambda: now[0])  # type: ignore[arg-type]
    assert watch.heads(["L1", "L2"]) == {"L1": 5, "L2": 1}
    log.announce("L2", 4)
    now[0] = 0.1
    assert watch.heads(["L1", "L2"]) == {"L1": 5, "L2": 4}
    assert log.reads == 1  # still fresh: no read
    now[0] = 0.5
    log.values = {"L1": 7, "L2": 4}
    assert watch.heads(["L1", "L2"]) == {"L1": 7, "L2": 4}
    assert log.reads == 2

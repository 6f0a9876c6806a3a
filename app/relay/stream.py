"""Shared change detection for `/v1/stream`.

Every open stream polls (200 ms by default). Without sharing, each stream would
Query every one of its locations on every tick, idle or not: N desktops × L
locations queries per tick per instance. `CounterWatch` reads the locations'
change counters (`ChangeLog.counters`, one BatchGetItem) at most once per
interval per process, shared by all streams of that process; a stream then
queries only the locations whose counter is past its own position. An idle
stream costs nothing beyond its share of the counter read.

A change appended through this process (`ChangeLog.on_appended`) raises the
watch's cached counter and wakes the streams of that location at once, so a
webhook reaches a desktop streaming from the same instance without waiting for
the next poll; changes written by other instances are still found by the poll.

A counter ahead of a stream's position can also mean a change whose item is not
written yet (the writer bumped the counter first) or a seq left empty by a
crashed writer: the stream keeps querying that location each tick until its
position catches up, exactly as without the watch (see `app.relay.changes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable

from app.relay.changes import ChangeLog


class CounterWatch:
    """Per-process cache of change counters, refreshed at most every `max_age` s."""

    def __init__(
        self, log: ChangeLog, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = log
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, int]] = {}  # location -> (read at, counter)
        #: streams sleeping until their next poll: (their loop, wake-up, their locations)
        self._sleepers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event, frozenset[str]]]
        self._sleepers = set()
        log.on_appended(self._appended)

    def _appended(self, location_id: str, seq: int) -> None:
        """A change of `location_id` up to `seq` was stored by this process."""
        with self._lock:
            known = self._values.get(location_id)
            if known is not None and seq > known[1]:
                self._values[location_id] = (known[0], seq)
            woken = [s for s in self._sleepers if location_id in s[2]]
        for loop, event, _ in woken:
            with contextlib.suppress(RuntimeError):  # that stream's loop is closed
                loop.call_soon_threadsafe(event.set)

    async def sleep(self, locations: Iterable[str], seconds: float) -> None:
        """Sleep `seconds`, or less if this process stores a change of `locations`."""
        sleeper = (asyncio.get_running_loop(), asyncio.Event(), frozenset(locations))
        with self._lock:
            self._sleepers.add(sleeper)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sleeper[1].wait(), seconds)
        finally:
            with self._lock:
                self._sleepers.discard(sleeper)

    def counters(self, locations: Iterable[str]) -> dict[str, int]:
        """Counters no older than `max_age` (blocking: call from a worker thread)."""
        wanted = set(locations)
        with self._lock:  # one refresh at a time: concurrent streams share its result
            now = self._clock()
            stale = [
                loc
                for loc in wanted
                if loc not in self._values or now - self._values[loc][0] >= self.max_age
            ]
            if stale:
                fresh = self._log.counters(stale)
                read_at = self._clock()
                for loc, value in fresh.items():
                    self._values[loc] = (read_at, value)
            return {loc: self._values[loc][1] for loc in wanted}


def watch_of(extras: dict[str, object], log: ChangeLog, max_age: float) -> CounterWatch:
    """The app's shared watch (kept in `ctx.extras`), created on first use."""
    watch = extras.get("_counter_watch")
    if not isinstance(watch, CounterWatch) or watch.max_age != max_age:
        watch = CounterWatch(log, max_age)
        extras["_counter_watch"] = watch
    return watch

"""Shared change detection for `/v1/stream`.

Every open stream polls (200 ms by default). Without sharing, each stream would
Query every one of its locations on every tick, idle or not: N desktops × L
locations queries per tick per instance. `HeadWatch` asks the change log for
the locations' heads (`ChangeLog.heads`: one keys-only BatchGetItem per 100
locations, checking whether the seq after each known head exists, plus a Query
for each location that moved) at most once per interval per process, shared by
all streams of that process; a stream then queries only the locations whose
head is past its own position. An idle stream costs nothing beyond its share of
that read.

A change appended through this process (`ChangeLog.on_appended`) raises the
watch's cached head and wakes the streams of that location at once, so a
webhook reaches a desktop streaming from the same instance without waiting for
the next poll; changes written by other instances are found by the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable

from app.relay.changes import ChangeLog


class HeadWatch:
    """Per-process cache of the change log's heads, refreshed at most every `max_age` s."""

    def __init__(
        self, log: ChangeLog, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = log
        self.max_age = max_age
        self._clock = clock
        #: guards the cache and the sleepers only, never held across a DynamoDB call (an
        #: append announcing its change must not wait behind a stream's head read)
        self._lock = threading.Lock()
        #: one head read at a time: concurrent streams share its result
        self._refresh = threading.Lock()
        self._values: dict[str, tuple[float, int]] = {}  # location -> (read at, head)
        #: changes announced per location, so a stream can tell whether one came in
        #: while it was not asleep (between two of its reads)
        self._announced: dict[str, int] = {}
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
            self._announced[location_id] = self._announced.get(location_id, 0) + 1
            woken = [s for s in self._sleepers if location_id in s[2]]
        for loop, event, _ in woken:
            with contextlib.suppress(RuntimeError):  # that stream's loop is closed
                loop.call_soon_threadsafe(event.set)

    def mark(self, locations: Iterable[str]) -> int:
        """How many changes of `locations` were announced so far (take it before reading
        the log, pass it to `sleep`)."""
        with self._lock:
            return sum(self._announced.get(loc, 0) for loc in set(locations))

    async def sleep(self, locations: Iterable[str], seconds: float, since: int) -> None:
        """Sleep `seconds`, or less if this process stores a change of `locations`;
        not at all if one was stored since `mark()` returned `since`."""
        wanted = frozenset(locations)
        sleeper = (asyncio.get_running_loop(), asyncio.Event(), wanted)
        with self._lock:
            if sum(self._announced.get(loc, 0) for loc in wanted) != since:
                return
            self._sleepers.add(sleeper)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sleeper[1].wait(), seconds)
        finally:
            with self._lock:
                self._sleepers.discard(sleeper)

    def heads(self, locations: Iterable[str]) -> dict[str, int]:
        """Heads no older than `max_age` (blocking: call from a worker thread)."""
        wanted = set(locations)
        with self._refresh:
            with self._lock:
                now = self._clock()
                stale = [
                    loc
                    for loc in wanted
                    if loc not in self._values or now - self._values[loc][0] >= self.max_age
                ]
            if stale:
                fresh = self._log.heads(stale)  # DynamoDB, outside `_lock`
                read_at = self._clock()
                with self._lock:
                    for loc, value in fresh.items():
                        # an append announced meanwhile may already be past the read
                        current = self._values.get(loc, (read_at, 0))[1]
                        self._values[loc] = (read_at, max(value, current))
        with self._lock:
            return {loc: self._values[loc][1] for loc in wanted}

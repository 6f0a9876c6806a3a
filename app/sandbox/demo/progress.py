"""Waiting on seeding while it makes progress, instead of for a fixed total.

Seeding plays thousands of requests through one process (relay, moto, the
simulator). On a starved machine (a build at low priority beside a test run)
the whole can take many times longer than on a quiet one, yet it is fine as
long as requests keep completing. So the bounds here are on silence: the time
since the last completed step, not the time since the start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from app.sandbox.demo.handle import DemoError

T = TypeVar("T")

#: How long seeding may go without one completed step before it is given up.
STALL_SECONDS = 240.0


class Progress:
    """Completed steps of the simulated world (thread-safe: read from other threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.steps = 0
        self.last = clock()

    def mark(self) -> None:
        with self._lock:
            self.steps += 1
            self.last = self.clock()

    def stalled(self, bound: float, since: float) -> bool:
        """No step for `bound` seconds, counting from `since` at the earliest (the
        `clock` time a wait began: a step before it does not count as recent)."""
        with self._lock:
            return self.clock() - max(self.last, since) >= bound


def wait_while_progressing(
    future: Future[T],
    progress: Progress,
    stall: float = STALL_SECONDS,
    what: str = "seeding",
    poll: float = 5.0,
) -> T:
    """`future`'s result, for as long as `progress` moves; cancelled and a
    `DemoError` (`seed_stalled`) once it has not moved for `stall` seconds
    (looked at every `poll` seconds)."""
    started = progress.clock()
    while True:
        try:
            return future.result(timeout=poll)
        except FutureTimeout:
            if progress.stalled(stall, since=started):
                future.cancel()
                raise DemoError(
                    f"{what} made no progress for {stall:.0f} s "
                    f"({progress.steps} steps done)",
                    "seed_stalled",
                ) from None

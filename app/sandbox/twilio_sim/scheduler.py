"""A small single-thread job scheduler.

The simulator never does carrier work or webhook delivery inside an API request:
those run here, in order of due time, on a daemon thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None], bool]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._busy = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._thread = None

    def call_later(self, delay: float, job: Callable[[], None], counts: bool = True) -> None:
        """Run `job` after `delay` seconds. A job with `counts=False` is a fallback that
        does not keep the scheduler from being idle."""
        with self._cond:
            due = time.monotonic() + max(delay, 0.0)
            heapq.heappush(self._heap, (due, next(self._seq), job, counts))
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def idle(self) -> bool:
        """True when nothing is queued or running (used by tests and `wait_idle`)."""
        with self._cond:
            return self._busy == 0 and not any(counts for *_, counts in self._heap)

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, _, job, _ = heapq.heappop(self._heap)
                        self._busy += 1
                        break
                    timeout = (self._heap[0][0] - now) if self._heap else None
                    self._cond.wait(timeout)
            try:
                job()
            except Exception:  # a failing job must not kill the simulator's worker
                log.exception("%s: job failed", self._name)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

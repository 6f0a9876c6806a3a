"""A small pool of worker threads that runs jobs in order per key and in parallel
across keys: webhooks of one conversation arrive in order, while one slow
conversation (or receiver) does not hold up the others."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class KeyedWorkers:
    def __init__(self, name: str, workers: int) -> None:
        self._name = name
        self._workers = workers
        self._cond = threading.Condition()
        self._queues: dict[str, deque[Callable[[], None]]] = {}
        self._ready: deque[str] = deque()  # keys with work and no job running
        self._active: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            for i in range(self._workers):
                thread = threading.Thread(target=self._run, name=f"{self._name}-{i}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float = 6.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    def submit(self, key: str, job: Callable[[], None]) -> None:
        with self._cond:
            queue = self._queues.setdefault(key, deque())
            queue.append(job)
            if len(queue) == 1 and key not in self._active:
                self._ready.append(key)
                self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._queues = {k: q for k, q in self._queues.items() if k in self._active}
            for queue in self._queues.values():
                queue.clear()
            self._ready.clear()

    def idle(self) -> bool:
        with self._cond:
            return not self._active and not any(self._queues.values())

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                key = self._ready.popleft()
                job = self._queues[key].popleft()
                self._active.add(key)
            try:
                job()
            except Exception:  # a failing job must not kill the worker
                log.exception("%s: job failed", self._name)
            finally:
                with self._cond:
                    self._active.discard(key)
                    queue = self._queues.get(key)
                    if queue:
                        self._ready.append(key)
                        self._cond.notify()
                    elif queue is not None:
                        del self._queues[key]

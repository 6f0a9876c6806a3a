"""What each simulated system received, in arrival order (the tests' ground truth)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

MAX_PER_SYSTEM = 10_000


class ReceivedLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_system: dict[str, deque[dict[str, Any]]] = {}

    def add(self, system: str, entry: dict[str, Any]) -> None:
        entry = {**entry, "at": time.time()}
        with self._lock:
            self._by_system.setdefault(system, deque(maxlen=MAX_PER_SYSTEM)).append(entry)

    def of(self, system: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._by_system.get(system, ())]

    def clear(self) -> None:
        with self._lock:
            self._by_system.clear()

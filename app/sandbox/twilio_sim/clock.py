"""The simulated clock: real time, optionally sped up, plus manual jumps."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, time_scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._scale = time_scale
        self._base_wall = datetime.now(UTC)
        self._base_mono = time.monotonic()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._base_mono) * self._scale
            return self._base_wall + timedelta(seconds=elapsed) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    @property
    def time_scale(self) -> float:
        return self._scale


def iso(dt: datetime | None) -> str | None:
    """Twilio's timestamp format: seconds precision, UTC, trailing Z."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

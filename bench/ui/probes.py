"""What the live figures watch on the Qt thread: a heartbeat, and where it stopped.

- `Heartbeat`: a precise timer on the Qt thread every `interval_ms`; the longest gap
  between two beats is how long the UI could not paint or take input. Gaps are kept
  per phase (`mark`), e.g. an idle baseline and the busy part measured.
- `StallSampler`: a watchdog thread that, when a beat is late, notes what the Qt
  thread's Python stack was doing (the innermost frames of ours or the libraries').
  A Qt thread waiting for the interpreter lock shows where it waits; one inside Qt's
  own C++ shows the event loop's frame.
- `GcLog`: each collection of the oldest generation, its duration and the thread that
  triggered it (a full collection stops every thread).
"""

from __future__ import annotations

import gc
import itertools
import sys
import threading
import time
import traceback
from collections import Counter
from typing import Any


class Heartbeat:
    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval_ms = interval_ms
        self.beats: list[float] = []
        self.last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        self.last = now = time.perf_counter()
        self.beats.append(now)

    def start(self) -> None:
        self.last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def gaps(self, start: float, end: float) -> list[float]:
        xs = [b for b in self.beats if start <= b <= end]
        return [(b - a) * 1000 for a, b in itertools.pairwise(xs)]

    def summary(self, start: float, end: float) -> dict[str, float]:
        gaps = sorted(self.gaps(start, end)) or [0.0]
        return {
            "max_gap_ms": round(gaps[-1], 1),
            "p99_gap_ms": round(gaps[int(len(gaps) * 0.99)], 1),
            "stall_ms": round(max(0.0, gaps[-1] - self.interval_ms), 1),
            "beats": len(gaps),
        }


def _where(frame: Any, depth: int = 3) -> str:
    """The innermost `depth` frames, innermost last, as `file:line function`."""
    stack = traceback.extract_stack(frame)[-depth:]
    return " < ".join(
        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in reversed(stack)
    )


class StallSampler:
    """Samples the Qt thread's stack when `heartbeat` is more than `late_ms` late."""

    def __init__(self, heartbeat: Heartbeat, late_ms: float = 12.0) -> None:
        self._heartbeat = heartbeat
        self._late = late_ms / 1000
        self._qt_thread = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-stalls", daemon=True)
        self.samples: Counter[str] = Counter()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        sampled_beat = 0.0
        while not self._stop.wait(0.002):
            last = self._heartbeat.last
            if last == sampled_beat or time.perf_counter() - last < self._late:
                continue
            sampled_beat = last
            frame = sys._current_frames().get(self._qt_thread or 0)
            if frame is not None:
                self.samples[_where(frame)] += 1

    def top(self, n: int = 8) -> list[tuple[str, int]]:
        return self.samples.most_common(n)


class GcLog:
    """Full collections (generation 2): when, how long, on which thread."""

    def __init__(self) -> None:
        self.full: list[dict[str, Any]] = []
        self._started: float | None = None

    def __enter__(self) -> GcLog:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.full.append(
                {
                    "ms": round((time.perf_counter() - self._started) * 1000, 1),
                    "thread": threading.current_thread().name,
                    "collected": info.get("collected", 0),
                }
            )
            self._started = None

"""Retry policy: exponential backoff with full jitter and a cap, Retry-After honoured.

A small policy of our own rather than tenacity's decorators: the outbox keeps
each row's attempt count in SQLite (it survives restarts) and schedules the row
by time, so what it needs is only "how long to wait before attempt n".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass
class Backoff:
    base: float = 0.5  # seconds before the first retry (before jitter)
    factor: float = 2.0
    cap: float = 30.0  # no wait is longer than this (except a server's Retry-After)
    max_retry_after: float = 300.0  # but a Retry-After is itself capped
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempt`-th failure (1-based).

        Full jitter: uniform in [0, min(cap, base * factor**(attempt-1))], so that
        many desktops coming back after an outage do not retry in lockstep. A
        Retry-After from the relay is a floor.
        """
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        wait = self.rng.uniform(0, ceiling)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)

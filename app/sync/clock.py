"""The relay's time, as this PC sees it: its own clock plus an offset.

Dealer PCs keep bad time (a dead CMOS battery, a clock set by hand a day off). What
the user sees is ordered and timed by the relay: every answer carries a `Date`
header, and the offset between it and this PC's clock is kept here. The engine
stamps what it queues with `now()`, the UI shows times against it, and the last
offset is remembered in the store for starts without the relay.

`Date` has whole seconds, so the offset is known to about a second; it changes only
when a new answer disagrees by more than that (a clock corrected meanwhile).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime

#: an offset smaller than this is the header's own rounding, not a wrong clock
RESOLUTION_S = 1.5


class RelayClock:
    def __init__(self, local: Callable[[], float] = time.time, offset: float = 0.0) -> None:
        """`local`: this PC's clock (seconds since the epoch); injectable for tests."""
        self.local = local
        self.offset = offset
        #: told of every new offset (the engine shows and remembers it)
        self.on_change: Callable[[float], None] | None = None

    def now(self) -> float:
        """The relay's time now, in seconds since the epoch."""
        return self.local() + self.offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def now_iso(self) -> str:
        """The relay's time now as the store keeps timestamps (UTC ISO text)."""
        return self.now_dt().isoformat()

    def observe(self, date_header: str | None, sent_at: float, received_at: float) -> bool:
        """Learn from one answer's `Date` header; True when the offset changed.

        `sent_at`/`received_at`: this PC's clock when the request left and the answer's
        headers came back. The relay wrote `Date` in between, rounded down to a second.
        """
        if not date_header:
            return False
        try:
            relay = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        sample = relay + 0.5 - (sent_at + received_at) / 2
        if abs(sample - self.offset) <= RESOLUTION_S + (received_at - sent_at) / 2:
            return False
        self.offset = round(sample, 1)
        if self.on_change is not None:
            self.on_change(self.offset)
        return True


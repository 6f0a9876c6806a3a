"""A location's opening hours: parsing, "is it open", and the closed period a moment
falls in (the after-hours reply goes once per closed period). Pure: times are given
in the location's own zone by the caller.

Format (`admin set-hours --hours`): comma-separated entries `DAYS HH:MM-HH:MM`, DAYS
a day (`mon` … `sun`) or a range (`mon-fri`, `fri-mon` wraps); several entries may
name one day (a lunch break); a day no entry names is closed; `24:00` ends a day.
Example: `mon-fri 09:00-18:00, sat 10:00-16:00`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ENTRY = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
MAX_TEXT = 300


class HoursError(ValueError):
    """The hours text is not in the format above (the message says where)."""


@dataclass(frozen=True)
class OpeningHours:
    #: per weekday (Monday = 0), the open spans in minutes since midnight, sorted
    spans: tuple[tuple[tuple[int, int], ...], ...]

    def is_open(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.spans[local.weekday()])

    @property
    def ever_open(self) -> bool:
        return any(self.spans)

    def closed_since(self, local: datetime) -> datetime | None:
        """When the closed period `local` is in began (the last closing time at or
        before it); None when it is open then, or never opens."""
        if self.is_open(local) or not self.ever_open:
            return None
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for back in range(8):
            start = day - timedelta(days=back)
            ends = [b for _a, b in self.spans[start.weekday()]]
            for end in sorted(ends, reverse=True):
                moment = start + timedelta(minutes=end)
                if moment <= local:
                    return moment
        return None  # pragma: no cover - an open week always has a close within 8 days

    def describe(self) -> str:
        """`Mon–Fri 09:00–18:00, Sat 10:00–16:00` (days with the same spans grouped)."""
        parts: list[str] = []
        day = 0
        while day < 7:
            spans = self.spans[day]
            last = day
            while last + 1 < 7 and self.spans[last + 1] == spans:
                last += 1
            if spans:
                names = DAYS[day].title() + (f"–{DAYS[last].title()}" if last > day else "")
                times = ", ".join(f"{_hhmm(a)}–{_hhmm(b)}" for a, b in spans)
                parts.append(f"{names} {times}")
            day = last + 1
        return ", ".join(parts) if parts else "Closed"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str, what: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise HoursError(f"{what} {text} is not a time of day")
    return hours * 60 + minutes


def _day_range(first: str, last: str | None) -> list[int]:
    for name in (first, last):
        if name is not None and name not in DAYS:
            raise HoursError(f"unknown day {name!r} (use mon, tue, wed, thu, fri, sat, sun)")
    a = DAYS.index(first)
    b = DAYS.index(last) if last else a
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


def parse_hours(text: str) -> OpeningHours:
    """The hours of `text`; HoursError when it is not in the format."""
    if len(text) > MAX_TEXT:
        raise HoursError(f"at most {MAX_TEXT} characters")
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    entries = [e.strip().lower() for e in text.split(",") if e.strip()]
    if not entries:
        raise HoursError("no hours given (e.g. mon-fri 09:00-18:00)")
    for entry in entries:
        match = _ENTRY.match(entry)
        if match is None:
            raise HoursError(f"{entry!r} is not like 'mon-fri 09:00-18:00'")
        start = _minutes(match["start"], "start")
        end = _minutes(match["end"], "end")
        if end <= start:
            raise HoursError(f"{entry!r} closes before it opens")
        for day in _day_range(match["first"], match["last"]):
            days[day].append((start, end))
    for spans in days:
        spans.sort()
        for (_a1, b1), (a2, _b2) in pairwise(spans):
            if a2 < b1:
                raise HoursError("two entries overlap on one day")
    return OpeningHours(tuple(tuple(s) for s in days))

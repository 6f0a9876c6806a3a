"""Human text for times, durations and statuses (shared by rows, bubbles and panels)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

#: the pipeline's statuses as shown (their order: app.core.statuses.PIPELINE_ORDER)
PIPELINE_LABELS = {
    "new": "New",
    "contacted": "Contacted",
    "engaged": "Engaged",
    "appointment": "Appointment",
    "won": "Won",
    "lost": "Lost",
}

STATUS_LABELS = {
    "pending": "Sending…",
    "failed_local": "Not sent",
    "accepted": "Sent to relay",
    "scheduled": "Scheduled",
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "received": "",
    "failed": "Failed",
    "undelivered": "Not delivered",
}

FAILED_STATUSES = frozenset({"failed_local", "failed", "undelivered"})


class Clock:
    """The time the UI shows and reckons with: this PC's clock plus the relay's offset
    from it (`SyncStatus.clock_offset`), so a PC clock a day off changes no "5m", no
    waiting timer, no day heading and no quiet-hours check."""

    def __init__(self) -> None:
        #: this PC's clock (tests give a wrong one)
        self.local: Callable[[], datetime] = lambda: datetime.now(UTC)
        #: seconds the relay's clock is ahead of this PC's
        self.offset = 0.0

    def now(self) -> datetime:
        return self.local() + timedelta(seconds=self.offset)


#: the process's one clock (there is one relay's time, as there is one PC clock)
CLOCK = Clock()


def now_utc() -> datetime:
    """The relay's time now (see `Clock`)."""
    return CLOCK.now()


def clock_offset_text(offset: float) -> str:
    """'1 day 2 hours behind' / '5 minutes ahead of': this PC's clock against the relay's
    (`offset`: seconds the relay is ahead)."""
    seconds = abs(round(offset))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes and not days:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    amount = " ".join(parts) or f"{seconds} seconds"
    return f"{amount} {'behind' if offset > 0 else 'ahead of'}"


def local(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone()


def relative_time(dt: datetime | None, now: datetime | None = None) -> str:
    """Compact age for list rows: 'now', '5m', '3h', 'Yesterday', 'Mon', 'Mar 4'."""
    if dt is None:
        return ""
    now = now or now_utc()
    delta = now - dt
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    ldt, lnow = local(dt), local(now)
    if ldt.date() == lnow.date():
        return f"{seconds // 3600}h"
    if ldt.date() == lnow.date() - timedelta(days=1):
        return "Yesterday"
    if (lnow.date() - ldt.date()).days < 7:
        return ldt.strftime("%a")
    if ldt.year == lnow.year:
        return f"{ldt.strftime('%b')} {ldt.day}"
    return f"{ldt.strftime('%b')} {ldt.day}, {ldt.year}"


def waiting_time(since: datetime | None, now: datetime | None = None) -> str:
    """Speed-to-lead timer text: '45s', '12m', '1h 05m', '2d 3h'."""
    if since is None:
        return ""
    seconds = max(0, int(((now or now_utc()) - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def day_label(day: date, today: date | None = None) -> str:
    today = today or local(now_utc()).date()
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day == today + timedelta(days=1):
        return "Tomorrow"
    if 0 < (today - day).days < 7:
        return day.strftime("%A")
    if day.year == today.year:
        return f"{day.strftime('%A, %B')} {day.day}"
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def clock(dt: datetime) -> str:
    ldt = local(dt)
    hour = ldt.hour % 12 or 12
    return f"{hour}:{ldt.minute:02d} {'AM' if ldt.hour < 12 else 'PM'}"


def phones_loaded() -> bool:
    """Whether phone formatting is exact yet (phonenumbers is imported off the Qt thread
    once the first rows are in; until then NANP numbers use the plain US form)."""
    module = sys.modules.get("app.core.phones")
    # in sys.modules from the moment its import *starts* on the preload thread: using it
    # before that import has finished would wait on the import lock, in a paint
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def format_phone(e164: str) -> str:
    if not phones_loaded() and _NANP.fullmatch(e164):
        # importing phonenumbers is slow: not in the middle of the first paint. For
        # US/CA numbers this is what it would say; not cached, so the exact form (e.g.
        # international for other +1 countries) is used once it is loaded
        return _nanp(e164)
    shown = _FORMATTED.get(e164)
    if shown is None:
        shown = _format_phone(e164)
    return shown


#: display forms made so far (phonenumbers takes a while per number: rows coming in
#: have theirs made off the Qt thread first, `phones_to_format`)
_FORMATTED: dict[str, str] = {}
_FORMATTED_MAX = 20_000


def phones_to_format(phones: Iterable[str]) -> list[str]:
    """Those of `phones` whose display form is not made yet (none before phonenumbers
    is loaded: until then the plain form costs nothing); `format_phones` makes them,
    on any thread."""
    if not phones_loaded():
        return []
    return [p for p in set(phones) if p and p not in _FORMATTED]


def format_phones(phones: Iterable[str]) -> None:
    for e164 in phones:
        _format_phone(e164)


def _format_phone(e164: str) -> str:
    if len(_FORMATTED) >= _FORMATTED_MAX:
        _FORMATTED.clear()
    shown = _FORMATTED[e164] = _exact_phone(e164)
    return shown


def _exact_phone(e164: str) -> str:
    try:
        from app.core.phones import format_phone as core_format

        return str(core_format(e164))
    except Exception:  # formatting is cosmetic: fall back to the raw number
        if e164.startswith("+1") and len(e164) == 12:
            return _nanp(e164)
        return e164


_NANP = re.compile(r"\+1\d{10}")


def _nanp(e164: str) -> str:
    return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"


def initials(name: str) -> str:
    parts = [p for p in name.split() if p[:1].isalnum()]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:1].upper()
    return (parts[0][:1] + parts[-1][:1]).upper()


_NAME_SEPARATORS = (" – ", " — ", " - ", ": ", ", ", " | ")


def short_location_names(names: Mapping[str, str]) -> dict[str, str]:
    """Location names without the words all of them start with, up to a separator:
    "Lakeshore Motors – New Vehicles" and "Lakeshore Motors – Pre-Owned" read as
    "New Vehicles" and "Pre-Owned" in rows that have little room. Unchanged when
    there is one name, no shared part ending at a separator, or a name would be empty."""
    values = list(names.values())
    if len(values) < 2:
        return dict(names)
    shared = os.path.commonprefix(values)  # noqa: RUF071 (names, not paths: by character)
    cut = max(
        (shared.rfind(sep) + len(sep) for sep in _NAME_SEPARATORS if sep in shared), default=0
    )
    if cut == 0 or any(not value[cut:].strip() for value in values):
        return dict(names)
    return {key: value[cut:].strip() for key, value in names.items()}


def hours_label(hours: str | None) -> str:
    """`Open Mon–Fri 09:00–18:00, Sat 10:00–16:00` for a location's hours, or ''."""
    if not hours:
        return ""
    from app.core.hours import HoursError, parse_hours

    try:
        return "Open " + parse_hours(hours).describe()
    except HoursError:
        return ""

"""Quiet hours: when a business text may reach a recipient, in the recipient's local time.

Public API:

- ``QuietHoursPolicy``: the federal window (08:00-21:00 local, TCPA, 47 CFR
  64.1200(c)(1)), stricter windows per state/province (``STATE_WINDOWS``), the
  fallback time zone and the 24-hour customer-contact exemption. Its methods:
  ``window_for(state) -> (start, end)``, ``is_allowed(now_utc, tz, state)``,
  ``next_allowed(now_utc, tz, state) -> datetime`` (UTC; ``now_utc`` itself when
  allowed) and ``check(now_utc, last_customer_contact_utc, location_tz,
  recipient_e164) -> QuietHoursDecision``.
- Module functions ``window_for``, ``is_allowed``, ``next_allowed``, ``check``:
  the same on ``DEFAULT_POLICY``.
- ``area_code_info(npa) -> AreaCodeInfo | None``: (primary IANA zone, country, state
  or province) of a NANP area code, from ``app/core/data/nanp_area_codes.json``;
  ``area_code_zones(npa)``: every zone the code spans, the primary one first (the
  codes that span several are in ``app/core/data/nanp_area_code_zones.json``,
  made from libphonenumber's time-zone map by ``scripts/make_area_code_zones.py``).
- ``customer_zones(recipient_e164, location_tz) -> (zones, source)``: the zones
  whose wall clocks decide for that customer.
- ``QuietHoursDecision``: ``allowed``, ``next_allowed_at`` (UTC), ``local_time``
  (aware, in ``tz``), ``tz`` (IANA name: the customer's primary zone), ``zones``
  (every zone checked), ``reason`` (``"recent_customer_contact"``,
  ``"inside_window"`` or ``"quiet_hours"``, the latter equal to
  ``ErrorReason.QUIET_HOURS``), plus ``state``, ``window`` and ``tz_source``
  (``"area_code"``, ``"location"`` or ``"default"``).

Decisions (documented in ``app/core/data/README.md`` too):

- Time zone: the customer's, never the store's: the zones of the recipient's NANP
  area code. When the code spans several zones (northern Idaho, the Florida
  panhandle, ...), a text is allowed only when it is allowed in every one of
  them, and the next allowed moment is the first that is allowed in all. Only a
  number without a known area code (non-NANP, toll-free) falls back to the
  location's IANA zone, and without one to ``America/New_York``, the most
  populous US zone, which also errs early in the evening for callers west of it.
- State: always from the recipient's area code (state laws presume it).
- The window applies only when the customer's last message is older than 24
  hours or absent: answering someone who just texted is not a solicitation.
- Windows are half-open: allowed when ``start <= local time < end``.
- Not modelled: Sunday and holiday bans (e.g. AL, LA, MS forbid Sundays; TX
  allows only 12:00-21:00 on Sundays; RI allows 10:00-17:00 on Saturdays and
  nothing on Sundays or holidays), per-day message caps (FL: 3 per 24 h), and a
  number ported away from its area code's region (the area code still decides).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.phones import area_code

Window = tuple[time, time]
TzSource = Literal["area_code", "location", "default"]

FEDERAL_WINDOW: Final[Window] = (time(8, 0), time(21, 0))
FALLBACK_TZ: Final[str] = "America/New_York"

_EIGHT_TO_EIGHT: Final[Window] = (time(8, 0), time(20, 0))
# Stricter windows for telephone solicitation, as of 2026. Sources:
#   FL  Fla. Stat. 501.059(8)(a) (Florida Telephone Solicitation Act, 2021): 08:00-20:00
#   OK  Okla. Stat. tit. 15, 775C.4 (Telephone Solicitation Act of 2022): 08:00-20:00
#   WA  RCW 80.36.390 (as amended 2023, HB 1051): 08:00-20:00
#   MD  Md. Code, Com. Law 14-4503 (Stop the Spam Calls Act, 2023): 08:00-20:00
#   AL  Ala. Code 8-19A-... (telephone solicitation; no Sundays/holidays): 08:00-20:00
#   LA  La. R.S. 45:844.14 (telephone solicitation; no Sundays/holidays): 08:00-20:00
#   MS  Miss. Code 77-3-725 (no Sundays): 08:00-20:00
#   MA  M.G.L. c. 159C, 3 (telephone solicitation): 08:00-20:00
#   CT  Conn. Gen. Stat. 42-288a (as amended 2023, SB 1058): 09:00-20:00
#   TX  Tex. Bus. & Com. Code 301.051 (Mon-Sat; Sunday 12:00-21:00 not modelled): 09:00-21:00
#   RI  R.I. Gen. Laws 5-61-3.4 (weekdays; Saturday 10:00-17:00 not modelled): 09:00-18:00
#   Canada (all provinces/territories): CRTC Unsolicited Telecommunications Rules,
#       weekdays 09:00-21:30, weekends 10:00-18:00; we use 09:00-21:00 every day
#       (within both the CRTC weekday window and the US default).
_CRTC: Final[Window] = (time(9, 0), time(21, 0))
STATE_WINDOWS: Final[Mapping[str, Window]] = MappingProxyType(
    {
        "FL": _EIGHT_TO_EIGHT,
        "OK": _EIGHT_TO_EIGHT,
        "WA": _EIGHT_TO_EIGHT,
        "MD": _EIGHT_TO_EIGHT,
        "AL": _EIGHT_TO_EIGHT,
        "LA": _EIGHT_TO_EIGHT,
        "MS": _EIGHT_TO_EIGHT,
        "MA": _EIGHT_TO_EIGHT,
        "CT": (time(9, 0), time(20, 0)),
        "TX": (time(9, 0), time(21, 0)),
        "RI": (time(9, 0), time(18, 0)),
        **{
            p: _CRTC
            for p in ("AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT")
        },
    }
)

REASON_RECENT_CONTACT: Final = "recent_customer_contact"
REASON_INSIDE_WINDOW: Final = "inside_window"
REASON_QUIET_HOURS: Final = "quiet_hours"


class AreaCodeInfo(NamedTuple):
    tz: str
    country: str
    state: str | None


@cache
def _area_codes() -> Mapping[str, AreaCodeInfo]:
    raw = resources.files("app.core").joinpath("data/nanp_area_codes.json").read_text("utf-8")
    table: dict[str, list[str | None]] = json.loads(raw)
    return MappingProxyType(
        {npa: AreaCodeInfo(str(v[0]), str(v[1]), v[2]) for npa, v in table.items()}
    )


def area_code_info(npa: str) -> AreaCodeInfo | None:
    """Primary IANA zone, ISO country and USPS/Canada Post state of a NANP area code."""
    return _area_codes().get(npa)


@cache
def _split_area_codes() -> Mapping[str, tuple[str, ...]]:
    raw = resources.files("app.core").joinpath("data/nanp_area_code_zones.json")
    table: dict[str, list[str]] = json.loads(raw.read_text("utf-8"))
    return MappingProxyType({npa: tuple(zones) for npa, zones in table.items()})


def area_code_zones(npa: str) -> tuple[str, ...]:
    """Every IANA zone a NANP area code spans, its primary zone first; () if unknown."""
    info = area_code_info(npa)
    if info is None:
        return ()
    others = [z for z in _split_area_codes().get(npa, ()) if z != info.tz]
    return (info.tz, *others)


def customer_zones(
    recipient_e164: str | None, location_tz: str | None = None, fallback_tz: str = FALLBACK_TZ
) -> tuple[tuple[str, ...], TzSource]:
    """The zones whose wall clocks decide for a customer: their area code's (all of
    them when it spans several); else the location's valid zone; else `fallback_tz`."""
    npa = area_code(recipient_e164) if isinstance(recipient_e164, str) else None
    zones = area_code_zones(npa) if npa else ()
    if zones:
        return zones, "area_code"
    if location_tz:
        try:
            ZoneInfo(location_tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            pass  # a misconfigured location must not block texting: use the default
        else:
            return (location_tz,), "location"
    return (fallback_tz,), "default"


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def _require_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QuietHoursDecision:
    allowed: bool
    next_allowed_at: datetime
    local_time: datetime
    tz: str
    reason: str
    state: str | None = None
    window: Window = FEDERAL_WINDOW
    tz_source: TzSource = "default"
    #: every zone checked (the customer's area code may span several); `tz` is the first
    zones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuietHoursPolicy:
    default_window: Window = FEDERAL_WINDOW
    state_windows: Mapping[str, Window] = field(default_factory=lambda: STATE_WINDOWS)
    fallback_tz: str = FALLBACK_TZ
    contact_exemption: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        for start, end in (self.default_window, *self.state_windows.values()):
            if not start < end:
                raise ValueError(f"a window must start before it ends: {start}-{end}")
        _zone(self.fallback_tz)

    def window_for(self, state: str | None) -> Window:
        """The window for a state/province code (any case); the default when unknown."""
        if not state:
            return self.default_window
        return self.state_windows.get(state.strip().upper(), self.default_window)

    def is_allowed(self, now_utc: datetime, tz: str | tzinfo | None, state: str | None) -> bool:
        """True when ``now_utc`` falls inside the window in ``tz``'s wall-clock time."""
        start, end = self.window_for(state)
        local = _require_aware("now_utc", now_utc).astimezone(self._tz(tz)).time()
        return start <= local < end

    def next_allowed(
        self, now_utc: datetime, tz: str | tzinfo | None, state: str | None
    ) -> datetime:
        """The first instant at or after ``now_utc`` inside the window (UTC)."""
        now = _require_aware("now_utc", now_utc)
        if self.is_allowed(now, tz, state):
            return now
        zone = self._tz(tz)
        start, _ = self.window_for(state)
        today = now.astimezone(zone).date()
        for offset in range(3):
            candidate = _first_instant_at_or_after(today + timedelta(days=offset), start, zone)
            if candidate >= now and self.is_allowed(candidate, zone, state):
                return candidate
        # A non-empty daily window always recurs within two days.
        raise AssertionError("unreachable")  # pragma: no cover

    def is_allowed_in_all(
        self, now_utc: datetime, zones: Sequence[str | tzinfo], state: str | None
    ) -> bool:
        """True when ``now_utc`` is inside the window in every one of ``zones``."""
        return all(self.is_allowed(now_utc, zone, state) for zone in zones)

    def next_allowed_in_all(
        self, now_utc: datetime, zones: Sequence[str | tzinfo], state: str | None
    ) -> datetime:
        """The first instant at or after ``now_utc`` inside the window in every zone.

        The windows' overlap opens when the last of them opens, so it is one of the
        zones' window starts (a day either side covers every offset).
        """
        now = _require_aware("now_utc", now_utc)
        if not zones:
            return self.next_allowed(now, None, state)
        if self.is_allowed_in_all(now, zones, state):
            return now
        start, _ = self.window_for(state)
        candidates = sorted(
            _first_instant_at_or_after(now.astimezone(zone).date() + timedelta(days=d), start, zone)
            for zone in (self._tz(z) for z in zones)
            for d in range(-1, 3)
        )
        for candidate in candidates:
            if candidate >= now and self.is_allowed_in_all(candidate, zones, state):
                return candidate
        # windows that never overlap (zones half a day apart): the primary zone decides
        return self.next_allowed(now, zones[0], state)  # pragma: no cover

    def check(
        self,
        now_utc: datetime,
        last_customer_contact_utc: datetime | None,
        location_tz: str | None,
        recipient_e164: str | None,
    ) -> QuietHoursDecision:
        """May a business-initiated text go to ``recipient_e164`` now (in the customer's
        time: every zone of their area code; ``location_tz`` only without one)?"""
        now = _require_aware("now_utc", now_utc)
        zones, source = customer_zones(recipient_e164, location_tz, self.fallback_tz)
        npa = area_code(recipient_e164) if isinstance(recipient_e164, str) else None
        info = area_code_info(npa) if npa else None
        state = info.state if info else None
        zone = ZoneInfo(zones[0])
        window = self.window_for(state)
        local = now.astimezone(zone)

        def decide(allowed: bool, at: datetime, reason: str) -> QuietHoursDecision:
            return QuietHoursDecision(
                allowed, at, local, zones[0], reason, state, window, source, zones
            )

        if last_customer_contact_utc is not None:
            last = _require_aware("last_customer_contact_utc", last_customer_contact_utc)
            # A timestamp from the future (clock skew) counts as a recent contact.
            if now - last <= self.contact_exemption:
                return decide(True, now, REASON_RECENT_CONTACT)
        if self.is_allowed_in_all(now, zones, state):
            return decide(True, now, REASON_INSIDE_WINDOW)
        return decide(False, self.next_allowed_in_all(now, zones, state), REASON_QUIET_HOURS)

    def _tz(self, tz: str | tzinfo | None) -> tzinfo:
        return _zone(self.fallback_tz if tz is None else tz)


def _first_instant_at_or_after(day: date, wall: time, zone: tzinfo) -> datetime:
    """The first UTC instant on ``day`` whose wall-clock time in ``zone`` is >= ``wall``.

    Usually ``wall`` itself; when a DST gap swallows it, the end of the gap.
    """
    naive = datetime.combine(day, wall)
    early = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if early.astimezone(zone).replace(tzinfo=None) == naive:
        return early
    # In a gap, fold=1 maps to an instant before the jump and fold=0 to one after it:
    # bisect (in whole seconds) to the jump, where the wall clock first reaches ``wall``.
    lo = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(early.timestamp())
    lo, hi = min(lo, hi), max(lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


DEFAULT_POLICY: Final[QuietHoursPolicy] = QuietHoursPolicy()


def window_for(state: str | None) -> Window:
    return DEFAULT_POLICY.window_for(state)


def is_allowed(now_utc: datetime, tz: str | tzinfo | None, state: str | None) -> bool:
    return DEFAULT_POLICY.is_allowed(now_utc, tz, state)


def next_allowed(now_utc: datetime, tz: str | tzinfo | None, state: str | None) -> datetime:
    return DEFAULT_POLICY.next_allowed(now_utc, tz, state)


def check(
    now_utc: datetime,
    last_customer_contact_utc: datetime | None,
    location_tz: str | None,
    recipient_e164: str | None,
) -> QuietHoursDecision:
    return DEFAULT_POLICY.check(now_utc, last_customer_contact_utc, location_tz, recipient_e164)

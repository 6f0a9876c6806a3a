from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder, timezone

from app.core.errors import ErrorReason
from app.core.quiet_hours import (
    DEFAULT_POLICY,
    FEDERAL_WINDOW,
    STATE_WINDOWS,
    QuietHoursPolicy,
    area_code_info,
    area_code_zones,
    check,
    customer_zones,
    is_allowed,
    next_allowed,
    window_for,
)

PROXIMITY = (
    Path(__file__).resolve().parents[2].parent / "shared/area-codes/areaCodeProximityMap.json"
)
NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- the area-code table --------------------------------------------------------


def _proximity_codes() -> dict[str, list[str]]:
    if PROXIMITY.exists():
        data = json.loads(PROXIMITY.read_text())
    else:  # the copy shipped for app.core.proxy
        data = json.loads(
            (
                Path(__file__).resolve().parents[2] / "app/core/data/areaCodeProximityMap.json"
            ).read_text()
        )
    return {country: sorted(codes) for country, codes in data.items()}


def test_table_covers_every_us_and_ca_code_of_the_proximity_map() -> None:
    for country, codes in _proximity_codes().items():
        for npa in codes:
            info = area_code_info(npa)
            assert info is not None, npa
            assert info.country == country.upper(), npa
            assert info.state and re.fullmatch(r"[A-Z]{2}", info.state), npa
            ZoneInfo(info.tz)


# Zones set by hand where libphonenumber's whole-code zone is not the primary one:
# 867 (Yukon/NWT/Nunavut), 364 and 448 (overlays of 270 and 850, mostly Central).
_TZ_EXCEPTIONS = {"867", "364", "448"}


def test_table_agrees_with_libphonenumber() -> None:
    for npa in [c for codes in _proximity_codes().values() for c in codes]:
        info = area_code_info(npa)
        assert info is not None
        zones = {
            z
            for exchange in ("234", "345", "456", "567", "678", "789", "890", "212", "302", "921")
            for z in timezone.time_zones_for_number(phonenumbers.parse(f"+1{npa}{exchange}5678"))
        }
        if npa not in _TZ_EXCEPTIONS:
            assert info.tz in zones, npa
        where = geocoder.description_for_number(phonenumbers.parse(f"+1{npa}2345678"), "en")
        m = re.search(r", ([A-Z]{2})$", where)
        if m:
            assert info.state == m.group(1), (npa, where)


def test_known_area_codes() -> None:
    assert area_code_info("312") == ("America/Chicago", "US", "IL")
    assert area_code_info("305") == ("America/New_York", "US", "FL")
    assert area_code_info("206") == ("America/Los_Angeles", "US", "WA")
    assert area_code_info("602") == ("America/Phoenix", "US", "AZ")
    assert area_code_info("808") == ("Pacific/Honolulu", "US", "HI")
    assert area_code_info("416") == ("America/Toronto", "CA", "ON")
    assert area_code_info("787") == ("America/Puerto_Rico", "PR", "PR")
    assert area_code_info("876") == ("America/Jamaica", "JM", None)
    assert area_code_info("800") is None  # toll-free: not geographic
    assert area_code_info("555") is None


# --- windows --------------------------------------------------------------------


def test_windows() -> None:
    assert window_for(None) == FEDERAL_WINDOW == (time(8), time(21))
    assert window_for("IL") == FEDERAL_WINDOW
    assert window_for("ZZ") == FEDERAL_WINDOW
    for state in ("FL", "OK", "WA", "MD"):
        assert window_for(state) == (time(8), time(20))
    assert window_for(" fl ") == (time(8), time(20))
    assert window_for("TX") == (time(9), time(21))
    assert window_for("ON") == (time(9), time(21))
    for start, end in STATE_WINDOWS.values():
        # Stricter, never looser, than the federal window.
        assert FEDERAL_WINDOW[0] <= start < end <= FEDERAL_WINDOW[1]


@pytest.mark.parametrize(
    ("local", "state", "allowed"),
    [
        ((7, 59, 59), None, False),
        ((8, 0, 0), None, True),
        ((12, 0, 0), None, True),
        ((20, 59, 59), None, True),
        ((21, 0, 0), None, False),
        ((23, 30, 0), None, False),
        ((0, 0, 0), None, False),
        ((19, 59, 59), "FL", True),
        ((20, 0, 0), "FL", False),
        ((8, 30, 0), "TX", False),
    ],
)
def test_is_allowed_boundaries(
    local: tuple[int, int, int], state: str | None, allowed: bool
) -> None:
    now = datetime(2026, 7, 15, *local, tzinfo=ZoneInfo(NY)).astimezone(UTC)
    assert is_allowed(now, NY, state) is allowed
    assert is_allowed(now, ZoneInfo(NY), state) is allowed


def test_next_allowed_basic() -> None:
    # 22:00 EDT on July 15 -> 08:00 EDT July 16 = 12:00 UTC.
    evening = utc(2026, 7, 16, 2, 0)
    assert next_allowed(evening, NY, None) == utc(2026, 7, 16, 12, 0)
    # 06:00 EDT -> 08:00 EDT the same day.
    assert next_allowed(utc(2026, 7, 16, 10, 0), NY, None) == utc(2026, 7, 16, 12, 0)
    # Inside the window: now.
    noon = utc(2026, 7, 16, 16, 0)
    assert next_allowed(noon, NY, None) == noon
    # FL at 20:15 EDT -> next morning.
    assert next_allowed(utc(2026, 7, 17, 0, 15), NY, "FL") == utc(2026, 7, 17, 12, 0)
    # Arizona has no DST: 08:00 MST = 15:00 UTC all year.
    assert next_allowed(utc(2026, 3, 8, 9, 0), "America/Phoenix", None) == utc(2026, 3, 8, 15, 0)
    # A tz of None means the policy's fallback zone.
    assert next_allowed(evening, None, None) == utc(2026, 7, 16, 12, 0)


def test_dst_spring_forward() -> None:
    # 2026-03-08: New York jumps from 02:00 EST to 03:00 EDT.
    # The evening before, 22:00 EST = 03:00 UTC; the window opens at 08:00 EDT = 12:00 UTC.
    assert next_allowed(utc(2026, 3, 8, 3, 0), NY, None) == utc(2026, 3, 8, 12, 0)
    # One day earlier the same local hour is 13:00 UTC.
    assert next_allowed(utc(2026, 3, 7, 3, 0), NY, None) == utc(2026, 3, 7, 13, 0)
    assert is_allowed(utc(2026, 3, 8, 12, 30), NY, None)  # 08:30 EDT
    assert not is_allowed(utc(2026, 3, 7, 12, 30), NY, None)  # 07:30 EST
    # 21:00 EDT = 01:00 UTC next day after the switch.
    assert is_allowed(utc(2026, 3, 9, 0, 59), NY, None)
    assert not is_allowed(utc(2026, 3, 9, 1, 0), NY, None)


def test_dst_fall_back() -> None:
    # 2026-11-01: 02:00 EDT becomes 01:00 EST. From 22:00 EDT Oct 31 (02:00 UTC Nov 1)
    # the window opens at 08:00 EST = 13:00 UTC.
    assert next_allowed(utc(2026, 11, 1, 2, 0), NY, None) == utc(2026, 11, 1, 13, 0)
    # 20:59 EST on Nov 1 = 01:59 UTC Nov 2 is still allowed; 21:00 EST is not.
    assert is_allowed(utc(2026, 11, 2, 1, 59), NY, None)
    assert not is_allowed(utc(2026, 11, 2, 2, 0), NY, None)


def test_window_starting_inside_a_dst_gap_opens_when_the_clock_jumps() -> None:
    policy = QuietHoursPolicy(default_window=(time(2, 30), time(21)), state_windows={})
    # Midnight EST on 2026-03-08; 02:30 never happens, the clock reaches 03:00 EDT at 07:00 UTC.
    assert policy.next_allowed(utc(2026, 3, 8, 5, 0), NY, None) == utc(2026, 3, 8, 7, 0)


def test_window_starting_inside_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    policy = QuietHoursPolicy(default_window=(time(1, 30), time(21)), state_windows={})
    # 00:00 EDT on 2026-11-01 = 04:00 UTC; the first 01:30 is EDT = 05:30 UTC.
    assert policy.next_allowed(utc(2026, 11, 1, 4, 0), NY, None) == utc(2026, 11, 1, 5, 30)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_allowed(datetime(2026, 1, 1, 12), NY, None)
    with pytest.raises(ValueError, match="unknown time zone"):
        is_allowed(utc(2026, 1, 1), "Mars/Olympus", None)
    with pytest.raises(ValueError, match="unknown time zone"):
        is_allowed(utc(2026, 1, 1), "../etc/passwd", None)
    with pytest.raises(ValueError, match="start before"):
        QuietHoursPolicy(default_window=(time(21), time(8)))
    with pytest.raises(ValueError, match="unknown time zone"):
        QuietHoursPolicy(fallback_tz="Nowhere/Land")
    with pytest.raises(ValueError, match="last_customer_contact_utc"):
        check(utc(2026, 1, 1), datetime(2026, 1, 1), None, "+13125550134")


# --- check() --------------------------------------------------------------------

CHI = "America/Chicago"
LATE_CHICAGO = utc(2026, 7, 16, 3, 30)  # 22:30 CDT July 15


def test_check_applies_window_without_recent_contact() -> None:
    d = check(LATE_CHICAGO, None, None, "+13125550134")
    assert not d.allowed
    assert d.reason == "quiet_hours" == ErrorReason.QUIET_HOURS
    assert d.tz == CHI and d.tz_source == "area_code" and d.state == "IL"
    assert d.local_time == LATE_CHICAGO.astimezone(ZoneInfo(CHI))
    assert d.local_time.hour == 22
    assert d.next_allowed_at == utc(2026, 7, 16, 13, 0)  # 08:00 CDT
    assert d.window == FEDERAL_WINDOW


def test_check_recent_customer_contact_exempts() -> None:
    for age in (timedelta(minutes=5), timedelta(hours=23, minutes=59), timedelta(hours=24)):
        d = check(LATE_CHICAGO, LATE_CHICAGO - age, None, "+13125550134")
        assert d.allowed and d.reason == "recent_customer_contact"
        assert d.next_allowed_at == LATE_CHICAGO
    d = check(LATE_CHICAGO, LATE_CHICAGO - timedelta(hours=24, seconds=1), None, "+13125550134")
    assert not d.allowed
    # A contact time from the future (clock skew) is a recent contact, not an error.
    assert check(LATE_CHICAGO, LATE_CHICAGO + timedelta(minutes=2), None, "+13125550134").allowed


def test_check_inside_window() -> None:
    noon = utc(2026, 7, 16, 17, 0)
    d = check(noon, None, None, "+13125550134")
    assert d.allowed and d.reason == "inside_window" and d.next_allowed_at == noon


def test_check_is_in_the_customers_time_not_the_stores() -> None:
    # 22:30 in Chicago is 20:30 in Los Angeles: a Los Angeles store still may not text
    # a Chicago customer, whose clock says 22:30.
    d = check(LATE_CHICAGO, None, "America/Los_Angeles", "+13125550134")
    assert not d.allowed and d.tz == CHI and d.tz_source == "area_code"
    assert d.state == "IL" and d.zones == (CHI,)
    # and a Chicago store may text a Los Angeles customer at 20:30 their time
    la = check(LATE_CHICAGO, None, CHI, "+12135550134")
    assert la.allowed and la.tz == "America/Los_Angeles"


def test_check_uses_the_location_zone_only_without_an_area_code() -> None:
    d = check(LATE_CHICAGO, None, "America/Los_Angeles", "+442079460958")
    assert d.allowed and d.tz == "America/Los_Angeles" and d.tz_source == "location"
    bad = check(LATE_CHICAGO, None, "Not/AZone", "+442079460958")
    assert bad.tz == NY and bad.tz_source == "default"


def test_area_code_zones_list_every_zone_primary_first() -> None:
    assert area_code_zones("312") == (CHI,)
    assert area_code_zones("208") == ("America/Boise", "America/Denver", "America/Los_Angeles")
    assert area_code_zones("850") == (CHI, NY)
    assert area_code_zones("448") == (CHI, NY)  # the 850 overlay
    assert area_code_zones("800") == ()
    assert customer_zones("+18505550134", "America/Denver") == ((CHI, NY), "area_code")
    assert customer_zones(None, None) == ((NY,), "default")


def test_split_area_code_allows_only_what_every_zone_allows() -> None:
    # Florida panhandle (850: Pensacola Central, Tallahassee Eastern; FL 08:00-20:00).
    # 07:30 Central is 08:30 Eastern: not yet allowed in Pensacola.
    early = utc(2026, 7, 16, 12, 30)
    d = check(early, None, None, "+18505550134")
    assert not d.allowed and d.zones == (CHI, NY) and d.state == "FL"
    assert d.next_allowed_at == utc(2026, 7, 16, 13, 0)  # 08:00 Central, 09:00 Eastern
    # 19:30 Central is 20:30 Eastern: already over in Tallahassee
    late = utc(2026, 7, 17, 0, 30)
    d = check(late, None, None, "+18505550134")
    assert not d.allowed
    assert d.next_allowed_at == utc(2026, 7, 17, 13, 0)
    # 12:00 Central is allowed in both
    assert check(utc(2026, 7, 16, 17, 0), None, None, "+18505550134").allowed
    # northern Idaho (Pacific) and southern Idaho (Mountain): 08:00 Mountain is 07:00
    # Pacific, so 208 opens at 08:00 Pacific
    d = check(utc(2026, 7, 16, 14, 0), None, None, "+12085550134")
    assert not d.allowed
    assert d.next_allowed_at == utc(2026, 7, 16, 15, 0)


def test_split_zones_table_is_libphonenumbers() -> None:
    # every zone libphonenumber gives any prefix of a code is in the code's zones, and
    # every code it gives several zones is in the table (scripts/make_area_code_zones.py)
    from phonenumbers import tzdata

    table = json.loads(
        (Path(__file__).resolve().parents[2] / "app/core/data/nanp_area_code_zones.json")
        .read_text()
    )
    codes = json.loads(
        (Path(__file__).resolve().parents[2] / "app/core/data/nanp_area_codes.json").read_text()
    )
    for npa in codes:
        zones = {z for k, v in tzdata.TIMEZONE_DATA.items() if k.startswith("1" + npa) for z in v}
        assert zones <= set(area_code_zones(npa)) | {codes[npa][0]}, npa
        if len(zones) > 1:
            assert npa in table, npa
    for npa, zones in table.items():
        for zone in zones:
            ZoneInfo(zone)
        assert area_code_zones(npa)[0] == codes[npa][0]


@settings(deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from(["208", "850", "867", "907", "605", "709", "928", "312"]),
)
def test_next_allowed_in_all_is_the_first_instant_allowed_everywhere(
    now: datetime, npa: str
) -> None:
    zones = area_code_zones(npa)
    state = area_code_info(npa).state  # type: ignore[union-attr]
    nxt = DEFAULT_POLICY.next_allowed_in_all(now, zones, state)
    assert nxt >= now and nxt - now < timedelta(hours=25)
    assert DEFAULT_POLICY.is_allowed_in_all(nxt, zones, state)
    if nxt > now:
        assert not DEFAULT_POLICY.is_allowed_in_all(nxt - timedelta(seconds=1), zones, state)


def test_check_state_window_from_area_code() -> None:
    at_2030_edt = utc(2026, 7, 17, 0, 30)
    assert check(at_2030_edt, None, None, "+12125550134").allowed  # New York: until 21:00
    miami = check(at_2030_edt, None, None, "+13055550134")  # Florida: until 20:00
    assert not miami.allowed and miami.state == "FL"
    assert miami.next_allowed_at == utc(2026, 7, 17, 12, 0)


@pytest.mark.parametrize("recipient", ["+442079460958", "+18005550199", "garbage", "", None])
def test_check_unknown_area_falls_back_to_new_york(recipient: str | None) -> None:
    d = check(utc(2026, 7, 16, 2, 0), None, None, recipient)  # 22:00 EDT
    assert d.tz == NY and d.tz_source == "default" and d.state is None
    assert not d.allowed and d.next_allowed_at == utc(2026, 7, 16, 12, 0)


def test_default_policy_and_custom_exemption() -> None:
    assert DEFAULT_POLICY.contact_exemption == timedelta(hours=24)
    strict = QuietHoursPolicy(contact_exemption=timedelta(0))
    assert not strict.check(
        LATE_CHICAGO, LATE_CHICAGO - timedelta(seconds=1), None, "+13125550134"
    ).allowed


# --- properties -----------------------------------------------------------------

_ZONES = [
    NY,
    CHI,
    "America/Los_Angeles",
    "America/Phoenix",
    "America/St_Johns",
    "Pacific/Honolulu",
    "Europe/London",
    "Australia/Lord_Howe",
]


@settings(deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from(_ZONES),
    st.sampled_from([None, "FL", "TX", "RI", "ON", "IL"]),
)
def test_next_allowed_is_the_first_allowed_instant(
    now: datetime, tz: str, state: str | None
) -> None:
    nxt = next_allowed(now, tz, state)
    assert nxt >= now
    assert is_allowed(nxt, tz, state)
    assert nxt - now < timedelta(hours=25)
    if nxt > now:
        assert not is_allowed(nxt - timedelta(seconds=1), tz, state)
        assert not is_allowed(now, tz, state)
        local = nxt.astimezone(ZoneInfo(tz)).time()
        assert local.replace(microsecond=0) == window_for(state)[0]

from __future__ import annotations

from datetime import datetime

import pytest

from app.core.hours import HoursError, parse_hours

HOURS = parse_hours("mon-fri 09:00-18:00, sat 10:00-16:00")


def at(day: int, hh: int, mm: int = 0) -> datetime:
    # 2026-12-07 is a Monday
    return datetime(2026, 12, 7 + day, hh, mm)


def test_open_and_closed_moments() -> None:
    assert HOURS.is_open(at(0, 9)) and HOURS.is_open(at(4, 17, 59))
    assert not HOURS.is_open(at(0, 8, 59)) and not HOURS.is_open(at(0, 18))
    assert HOURS.is_open(at(5, 10)) and not HOURS.is_open(at(6, 12))


def test_a_closed_period_begins_at_the_last_closing_time() -> None:
    friday_close = at(4, 18)
    # Friday evening, Saturday morning: one period; Saturday evening to Monday: another
    assert HOURS.closed_since(at(4, 23)) == friday_close
    assert HOURS.closed_since(at(5, 9, 59)) == friday_close
    assert HOURS.closed_since(at(5, 16)) == at(5, 16)
    assert HOURS.closed_since(at(7, 8)) == at(5, 16)  # Monday 08:00 of the next week
    assert HOURS.closed_since(at(2, 12)) is None  # open


def test_describe_groups_days() -> None:
    assert HOURS.describe() == "Mon–Fri 09:00–18:00, Sat 10:00–16:00"
    split = parse_hours("Tue 09:00-12:00, tue 13:00-17:00, sun-mon 10:00-24:00")
    assert split.describe() == "Mon 10:00–24:00, Tue 09:00–12:00, 13:00–17:00, Sun 10:00–24:00"
    assert split.closed_since(datetime(2026, 12, 8, 12, 30)) == datetime(2026, 12, 8, 12, 0)


@pytest.mark.parametrize(
    "text",
    ["", "weekdays 9-5", "mon 18:00-09:00", "mon 09:00-25:00", "xyz 09:00-10:00",
     "mon 09:00-12:00, mon 11:00-13:00", "mon 09:00-10:00," * 40],
)
def test_bad_hours_are_refused(text: str) -> None:
    with pytest.raises(HoursError):
        parse_hours(text)

"""Send later in the composer: presets in the customer's time, the picker, and the
one-click "Send at <time> (customer's time)" a quiet-hours warning offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt

from app.ui.composer import Composer
from app.ui.send_later import PickTimeDialog, tomorrow_morning, when_text


def test_tomorrow_morning_is_nine_in_the_customers_zone() -> None:
    now = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)  # 17:30 in Chicago
    at = tomorrow_morning(now, "America/Chicago")
    assert at.astimezone(ZoneInfo("America/Chicago")) == datetime(
        2026, 12, 8, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert when_text(at, "America/Chicago", now) == "tomorrow at 9:00 AM"


def test_quiet_hours_offer_one_click_send_at_the_next_allowed_time(qtbot: Any) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    allowed = datetime.now(UTC) + timedelta(hours=5)
    composer.set_quiet_hours_check(lambda now: "Quiet hours: it's 3:00 AM for this customer")
    composer.set_customer_time("America/Chicago", lambda now: allowed)
    button = composer.send_at_button
    assert button.isVisible()
    assert button.text().startswith("Send at ") and button.text().endswith("(customer's time)")
    assert button.accessibleName() == button.text()
    got: list[tuple[str, datetime]] = []
    composer.sendLater.connect(lambda text, at: got.append((text, at)))
    qtbot.keyClicks(composer.edit, "Your order is in")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert got == [("Your order is in", allowed)]
    # texting allowed again: no offer
    composer.set_customer_time("America/Chicago", lambda now: None)
    composer.set_quiet_hours_check(lambda now: None)
    assert not button.isVisible()


def test_presets_and_picker_schedule_the_typed_text(qtbot: Any) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.set_customer_time("America/Denver", None)
    got: list[datetime] = []
    composer.sendLater.connect(lambda _text, at: got.append(at))
    menu = composer.later_button.menu()
    menu.actions()[0].trigger()
    assert got == []  # nothing typed: nothing scheduled
    qtbot.keyClicks(composer.edit, "See you then")
    before = datetime.now(UTC)
    menu.actions()[0].trigger()
    assert timedelta(minutes=59) < got[-1] - before < timedelta(minutes=61)
    menu.actions()[1].trigger()
    local = got[-1].astimezone(ZoneInfo("America/Denver"))
    assert (local.hour, local.minute) == (9, 0)
    dialog = PickTimeDialog("America/Denver")
    qtbot.addWidget(dialog)
    shown = dialog.when.dateTime()
    chosen = dialog.chosen()
    back = chosen.astimezone(ZoneInfo("America/Denver"))
    assert (back.hour, back.minute) == (shown.time().hour(), shown.time().minute())
    assert timedelta(minutes=58) < chosen - datetime.now(UTC) < timedelta(minutes=61)


def test_presets_count_from_the_relays_time_not_a_wrong_pc_clock(qtbot: Any) -> None:
    """A PC clock a day behind (the relay's `Date` headers say so): "in 1 hour" is an
    hour after the relay's time, and the picker starts there too."""
    from app.ui import fmt

    pc_now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    saved = (fmt.CLOCK.local, fmt.CLOCK.offset)
    fmt.CLOCK.local, fmt.CLOCK.offset = (lambda: pc_now), 86_400.0
    try:
        composer = Composer()
        qtbot.addWidget(composer)
        composer.set_customer_time("America/Denver", None)
        got: list[datetime] = []
        composer.sendLater.connect(lambda _text, at: got.append(at))
        qtbot.keyClicks(composer.edit, "See you then")
        composer.later_button.menu().actions()[0].trigger()
        assert got == [pc_now + timedelta(days=1, hours=1)]
        picker = PickTimeDialog("America/Denver")
        qtbot.addWidget(picker)
        shown = picker.when.dateTime().toPython()
        expected = (pc_now + timedelta(days=1, hours=1)).astimezone(ZoneInfo("America/Denver"))
        assert shown == expected.replace(tzinfo=None)
    finally:
        fmt.CLOCK.local, fmt.CLOCK.offset = saved

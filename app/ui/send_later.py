"""Send later: the composer's presets (in 1 hour, tomorrow 9:00 in the customer's
time), a picker for any time, and how a time is written for staff ("Tue 9:00 AM
their time"). Times are aware; the customer's zone comes from
`app.core.quiet_hours.check` (location, else area code)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, QTime, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import fmt
from app.ui.dialogs import keyboard_ready

#: the hour of the "tomorrow morning" preset, in the customer's time
MORNING = time(9, 0)


def customer_zone(phone: str, location_tz: str | None) -> str:
    """The zone the customer's quiet hours are counted in."""
    from app.core import quiet_hours as qh

    return qh.check(fmt.now_utc(), None, location_tz, phone or None).tz


def tomorrow_morning(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    day = local.date() + timedelta(days=1)
    return datetime.combine(day, MORNING, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def when_text(at: datetime, zone: str, now: datetime | None = None) -> str:
    """"today at 3:05 PM", "Tue at 9:00 AM" in `zone`."""
    local = at.astimezone(ZoneInfo(zone))
    today = (now or fmt.now_utc()).astimezone(ZoneInfo(zone)).date()
    day = fmt.day_label(local.date(), today)
    day = day.lower() if day in ("Today", "Tomorrow") else day
    hour = local.hour % 12 or 12
    return f"{day} at {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def later_menu(parent: QWidget, zone: Callable[[], str],
               chosen: Callable[[datetime], None], pick: Callable[[], None]) -> QMenu:
    """The presets: in 1 hour, tomorrow morning (customer's time), pick a time."""
    menu = QMenu(parent)
    menu.setAccessibleName("Send later")
    menu.addAction("In 1 hour").triggered.connect(
        lambda: chosen(fmt.now_utc() + timedelta(hours=1)))
    morning = menu.addAction("Tomorrow 9:00 AM (customer's time)")
    morning.triggered.connect(lambda: chosen(tomorrow_morning(fmt.now_utc(), zone())))
    menu.addAction("Pick a time…").triggered.connect(pick)
    return menu


class PickTimeDialog(QDialog):
    """A date and time in the customer's zone; answers `picked(datetime UTC)`."""

    picked = Signal(object)

    def __init__(self, zone: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send later")
        self.setAccessibleName("Send later")
        self.zone = zone
        # the customer's wall clock, shown and read back as plain date and time
        now = fmt.now_utc().astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0)
        self.when = QDateTimeEdit(_wall_clock(now + timedelta(hours=1)))
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("ddd d MMM yyyy  h:mm AP")
        self.when.setAccessibleName("Send at (customer's time)")
        self.when.setMinimumDateTime(_wall_clock(now))
        self.ok_button = QPushButton("Schedule")
        self.ok_button.setAccessibleName("Schedule")
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        self.ok_button.clicked.connect(self._accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"When should it go? (customer's time, {zone})"))
        layout.addWidget(self.when)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(cancel)
        row.addWidget(self.ok_button)
        layout.addLayout(row)
        keyboard_ready(self, "send later", default=self.ok_button)
        self.when.setFocus()

    def chosen(self) -> datetime:
        shown = self.when.dateTime()
        d, t = shown.date(), shown.time()
        local = datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(),
                         tzinfo=ZoneInfo(self.zone))
        return local.astimezone(UTC)

    def _accept(self) -> None:
        at = self.chosen()
        self.accept()
        self.picked.emit(at)


def _wall_clock(moment: datetime) -> QDateTime:
    """A naive wall-clock time as Qt's date and time (no zone conversion)."""
    return QDateTime(
        QDate(moment.year, moment.month, moment.day),
        QTime(moment.hour, moment.minute, moment.second),
    )

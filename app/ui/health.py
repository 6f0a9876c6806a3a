"""The local store's health on screen, from the engine's status: calm banners, never a
crash dialog.

- **Storage**: the data folder takes no writes (disk full, read-only, a drive unplugged):
  what the engine says (which folder, how much room, what to do), until it is fixed.
  Text typed meanwhile stays in the composer (the send is refused, not lost).
- **Repair**: the local data was damaged and rebuilt: what was kept, what could not be
  read, where the damaged file is. Shown once: the engine is told it was shown.
- **Clock**: this PC's clock is off; times are the relay's. Shown once per offset.
- **Start**: the engine could not start yet (the data folder, another program on the
  store): what is wrong, while the app tries again by itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from app.sync.api import Engine, RepairReport, SyncStatus
from app.ui import fmt
from app.ui.conversation import Banner
from app.ui.tasks import Tasks

#: from this much on, the user is told that the PC's clock is wrong
CLOCK_NOTICE_S = 120.0
CLOCK_TEXT = (
    "This PC's clock is {offset} the relay's clock. Web2Text shows times, timers and quiet "
    "hours by the relay's clock, so nothing changes here; set the PC's clock right when "
    "you can."
)


def _plain(banner: Banner) -> Banner:
    """Folder names and previews are shown as they are, never as rich text."""
    banner.label.setTextFormat(Qt.TextFormat.PlainText)
    return banner


class HealthBanners(QObject):
    def __init__(self, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._engine: Engine | None = None
        self.storage = _plain(Banner("danger", "Storage problem"))
        self.start_problem = _plain(Banner("warning", "Starting"))
        self.repair = _plain(Banner("info", "Local data repaired"))
        repair_ok = self.repair.add_button("OK")
        repair_ok.setAccessibleName("Dismiss repair notice")
        repair_ok.clicked.connect(self.repair.hide)
        self.clock = _plain(Banner("info", "Clock"))
        clock_ok = self.clock.add_button("OK")
        clock_ok.setAccessibleName("Dismiss clock notice")
        clock_ok.clicked.connect(self.clock.hide)
        self._shown_repair: RepairReport | None = None
        self._told_offset: float | None = None

    def banners(self) -> list[Banner]:
        """Top to bottom, for the window's layout."""
        return [self.storage, self.start_problem, self.repair, self.clock]

    def set_engine(self, engine: Engine | None) -> None:
        self._engine = engine
        if engine is not None:
            self.start_problem.hide()

    def show_status(self, status: SyncStatus) -> None:
        if status.storage is not None:
            self.storage.set_text(status.storage.message)
            self.storage.show()
        else:
            self.storage.hide()
        if status.repair is not None and status.repair != self._shown_repair:
            self._show_repair(status.repair)
        self._show_clock(status.clock_offset)

    def show_start_problem(self, text: str | None) -> None:
        """Why the engine has not started yet (None: it has)."""
        if text:
            self.start_problem.set_text(text)
            self.start_problem.show()
        else:
            self.start_problem.hide()

    def _show_repair(self, report: RepairReport) -> None:
        self._shown_repair = report
        self.repair.set_text(report.message)
        self.repair.show()
        if self._engine is not None:  # told once: the engine keeps it no longer
            self._tasks.spawn(self._engine.acknowledge_repair())

    def _show_clock(self, offset: float) -> None:
        fmt.CLOCK.offset = offset
        if abs(offset) < CLOCK_NOTICE_S:
            self._told_offset = None
            self.clock.hide()
            return
        if self._told_offset is not None and abs(offset - self._told_offset) < CLOCK_NOTICE_S:
            return  # this offset was told already (dismissed or not)
        self._told_offset = offset
        self.clock.set_text(CLOCK_TEXT.format(offset=fmt.clock_offset_text(offset)))
        self.clock.show()

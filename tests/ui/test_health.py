"""The store's health on screen: a storage problem banner that comes and goes with the
engine's status, a repair notice told once, a PC clock a day off that changes nothing
shown but a notice, an engine that cannot start yet (a read-only data folder) retried
by itself, and errors nobody planned for logged and reported, never raised at the user.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.sync.api import (
    EngineError,
    RepairReport,
    SavedItem,
    StorageProblem,
    SyncState,
    SyncStatus,
)
from app.ui import engine_lifecycle, fmt, unexpected
from app.ui.controller import AppController, Options
from app.ui.mainwindow import MainWindow
from app.ui.profiles import Profile, ProfileStore, Secrets
from app.ui.tasks import Tasks
from tests.sync.damage import Drive
from tests.ui.conftest import MemoryKeyring
from tests.ui.fake_engine import FakeEngine

DAY = timedelta(days=1)
FULL = StorageProblem("disk_full", "/media/usb/Web2Text",
                      "The disk holding /media/usb/Web2Text is full (2 KB free now). Web2Text "
                      "needs about 4.0 MB free there to save messages.", 4 << 20, 2048)


def _button(banner: Any) -> Any:
    from PySide6.QtWidgets import QPushButton

    [button] = banner.findChildren(QPushButton)
    return button


def test_a_storage_problem_shows_until_it_is_fixed(window: MainWindow, engine: FakeEngine,
                                                   qtbot: Any) -> None:
    engine.set_status(SyncStatus(SyncState.STORAGE_PROBLEM, storage=FULL))
    banner = window.health.storage
    qtbot.waitUntil(banner.isVisible)
    assert banner.label.text() == FULL.message and banner.accessibleName() == "Storage problem"
    assert "Can't save on this PC" in window.status_bar.state_label.text()
    assert not window.offline_banner.isVisible()  # not "offline": the disk is the problem
    engine.set_status(SyncStatus(SyncState.ONLINE))
    qtbot.waitUntil(lambda: not banner.isVisible())


def test_a_repair_is_a_calm_notice_told_once(window: MainWindow, engine: FakeEngine,
                                             qtbot: Any) -> None:
    report = RepairReport(
        at=datetime.now(UTC), detail="database disk image is malformed",
        kept_at="/data/sync-damaged-20260101T000000Z.db",
        saved=(SavedItem("send_message", "CH1", None, "see you at 3"),), unreadable=2)
    engine.set_status(SyncStatus(SyncState.ONLINE, repair=report))
    notice = window.health.repair
    qtbot.waitUntil(notice.isVisible)
    text = notice.label.text()
    assert "1 message waiting to be sent" in text and "Up to 2 waiting items" in text
    assert report.kept_at in text
    # the engine is told, and will not report it again
    qtbot.waitUntil(lambda: engine.status().repair is None)
    engine.set_status(SyncStatus(SyncState.ONLINE, repair=report))  # the same report again
    assert engine.calls.count("acknowledge_repair") == 1
    qtbot.mouseClick(_button(notice), Qt.MouseButton.LeftButton)
    assert not notice.isVisible()


def test_a_pc_clock_a_day_ahead_changes_nothing_shown_but_a_notice(
        qtbot: Any, run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ui.bridge import EngineBridge

    engine = FakeEngine()
    engine.add_location("loc-1", "Downtown")
    lead = engine.add_lead("Wendy Waiting", "+13125550134", minutes_ago=5)
    real_now = datetime.now(UTC)
    monkeypatch.setattr(fmt.CLOCK, "local", lambda: datetime.now(UTC) + DAY)  # the PC's clock
    monkeypatch.setattr(fmt.CLOCK, "offset", 0.0)
    bridge = EngineBridge()
    engine.add_listener(bridge)
    run(engine.start())
    w = MainWindow(tray_available=False)
    qtbot.addWidget(w)
    w.set_engine(engine, bridge)
    w.show()
    qtbot.waitUntil(lambda: w.leads_model.rowCount() == 1)
    # the engine learned the relay's time: this PC is a day ahead
    engine.set_status(SyncStatus(SyncState.ONLINE, clock_offset=-DAY.total_seconds()))
    qtbot.waitUntil(w.health.clock.isVisible)
    assert "1 day ahead of the relay's clock" in w.health.clock.label.text()
    assert abs((fmt.now_utc() - real_now).total_seconds()) < 60
    text = w.leads_model.data(w.leads_model.index(0), Qt.ItemDataRole.AccessibleTextRole)
    assert "waiting 5m for a first reply" in text and ", 5m," in text
    # the composer's quiet-hours check asks with the relay's time
    seen: list[datetime] = []
    w.finish_build()
    w.pane.composer.set_quiet_hours_check(lambda now: seen.append(now) or None)
    assert seen and abs((seen[-1] - real_now).total_seconds()) < 60
    # dismissed, it stays away for this offset; a clock set right hides it
    qtbot.mouseClick(_button(w.health.clock), Qt.MouseButton.LeftButton)
    engine.set_status(SyncStatus(SyncState.ONLINE, clock_offset=-DAY.total_seconds() + 1))
    assert not w.health.clock.isVisible()
    engine.set_status(SyncStatus(SyncState.ONLINE, clock_offset=0.4))
    assert not w.health.clock.isVisible() and fmt.CLOCK.offset == 0.4
    assert lead.lead_id


def test_unexpected_errors_are_reported_and_refusals_are_not(
        loop: Any, qtbot: Any, caplog: pytest.LogCaptureFixture) -> None:
    reported: list[tuple[str, BaseException]] = []

    def reporter(where: str, exc: BaseException) -> None:
        reported.append((where, exc))

    unexpected.add_reporter(reporter)
    try:
        tasks = Tasks("pane")

        async def bug() -> None:
            raise KeyError("no such row")

        async def refused() -> None:
            raise EngineError("disk_full", "the disk is full")

        with caplog.at_level(logging.WARNING):
            tasks.spawn(bug())
            tasks.spawn(refused())
            qtbot.waitUntil(lambda: tasks.running == 0)
    finally:
        unexpected.remove_reporter(reporter)
    assert [(w, type(e)) for w, e in reported] == [("pane task", KeyError)]
    assert any(r.exc_info and r.levelno == logging.ERROR for r in caplog.records)
    assert any("the disk is full" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


def test_an_engine_that_cannot_start_yet_is_explained_and_retried(
        tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only data folder (the real engine): a banner, then it starts by itself."""
    monkeypatch.setattr(engine_lifecycle, "START_RETRY_S", 0.05)
    drive = Drive(tmp_path)
    try:
        data_dir = drive.where / "Web2Text"
        profile = Profile("staff-1", "Sam Staff", "http://127.0.0.1:9", "ret-1")
        ProfileStore(data_dir).save(profile)
        Secrets().put(profile, "a-staff-key")
        ProfileStore(data_dir).engine_dir(profile).mkdir(parents=True)
        drive.read_only()
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        ctrl = AppController(app, Options(data_dir=data_dir), tray_available=True, env={})
        task = asyncio.ensure_future(ctrl.run())
        banner = ctrl.window.health.start_problem
        qtbot.waitUntil(banner.isVisible, timeout=20000)
        assert "read-only" in banner.label.text() and str(data_dir) in banner.label.text()
        assert not task.done()  # no crash: the app waits
        drive.writable()
        qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=20000)
        assert not banner.isVisible()
        ctrl.quit()
        qtbot.waitUntil(task.done, timeout=20000)
        assert task.result() == 0
    finally:
        drive.close()


def test_web2text_usage_errors_are_one_line() -> None:
    res = subprocess.run([sys.executable, "-m", "app.ui.main", "--no-such-option"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "web2text: error: usage: unrecognized arguments: --no-such-option "
        "(see web2text --help)"]


def test_the_report_stays_plain_text(window: MainWindow, engine: FakeEngine, qtbot: Any) -> None:
    """A kept file's path or a message preview is never read as markup."""
    report = RepairReport(at=datetime.now(UTC), detail="x", kept_at="/data/<b>odd</b>.db")
    engine.set_status(replace(engine.status(), repair=report))
    qtbot.waitUntil(window.health.repair.isVisible)
    assert window.health.repair.label.textFormat() == Qt.TextFormat.PlainText
    assert "<b>odd</b>" in window.health.repair.label.text()

"""The supportable desktop: log file, crash reports and their prompt, Help > About,
one instance per profile folder, the update banner, start at sign-in."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDir
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMainWindow

import app
from app.autostart import Autostart
from app.core.versions import UpdateState
from app.ui.about import AboutDialog, add_help_menu
from app.ui.autostart_option import LABEL, AutostartOption
from app.ui.crash_prompt import TITLE, CrashPrompt, offer_reports
from app.ui.crash_report import FAULT_FILE, CrashReporter
from app.ui.logfile import LOG_FILE, redact, scrub, setup_logging
from app.ui.main import parse_args
from app.ui.single_instance import AlreadyRunning, SingleInstance, server_name
from app.ui.update_banner import UpdateCheck

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+13125550143"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    level = root.level
    path = setup_logging("INFO", tmp_path)
    yield path
    for handler in list(root.handlers):
        if getattr(handler, "web2text_handler", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _child(code: str, log_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "W2T_LOG_DIR": str(log_dir), "QT_QPA_PLATFORM": "offscreen", **env},
    )


# ----------------------------------------------------------------- log file


def test_log_file_masks_phones_and_never_holds_keys(logs: Path) -> None:
    redact("staff-key-0123456789")
    log = logging.getLogger("web2text.support-test")
    log.info("sent to %s with staff-key-0123456789", PHONE)
    log.warning("Authorization: Bearer abc.def-123 for (312) 555-0143")
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        log.exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = logs.read_text()
    assert logs.name == LOG_FILE and "sent to +1 312 ***-**43" in text
    assert PHONE not in text and "555-0143" not in text
    assert "staff-key-0123456789" not in text and "abc.def-123" not in text
    assert "ValueError: bad phone +1 312 ***-**43" in text
    logging.getLogger("twilio.http_client").info("POST Request: every request")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "every request" not in logs.read_text()  # per-request chatter stays out at INFO


def test_log_level_option() -> None:
    assert parse_args(["--log-level", "debug"]).log_level == "DEBUG"
    assert parse_args([]).log_level in ("INFO", os.environ.get("W2T_LOG_LEVEL", "INFO").upper())
    with pytest.raises(SystemExit):
        parse_args(["--log-level", "loud"])


# ----------------------------------------------------------------- crash reports


def test_masking_keeps_dates_and_times_and_masks_phones() -> None:
    """A log line's own time (and any date in a message) has a phone's count of
    digits; the crash report's tail of the log is scrubbed again, so a date taken for
    a phone would garble every line's time there."""
    line = f"2026-12-07 10:12:13,356 INFO app.x [MainThread]: sent to {PHONE} at 2026-12-08T09:00"
    assert scrub(line) == (
        "2026-12-07 10:12:13,356 INFO app.x [MainThread]: sent to +1 312 ***-**43"
        " at 2026-12-08T09:00")
    assert scrub("call (312) 555-0143 or 312.555.0143") == "call +1 312 ***-**43 or +1 312 ***-**43"


def test_a_window_system_that_ends_the_loop_is_no_crash(tmp_path: Path) -> None:
    """Qt ends its own loop when the display connection breaks (a killed X server, a
    closed remote session): the app exits with 1 and a warning in its log, and offers
    no crash report on the next start (there is no bug of ours to send)."""
    result = _child(
        """
        import asyncio
        from pathlib import Path
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from app.ui import main
        from app.ui.crash_report import CrashReporter
        from app.ui.support import DesktopSupport

        support = DesktopSupport.start("INFO")
        qapp = QApplication([])

        class App:
            def show_first_frame(self): pass
            async def _run(self):
                QTimer.singleShot(0, lambda: qapp.exit(1))  # what Qt does on X11 loss
                await asyncio.Event().wait()
                return 0
            def run(self): return self._run()

        code = main.run(qapp, App(), on_loop=support.watch_loop)
        support.close()
        raise SystemExit(code)
        """,
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert CrashReporter(tmp_path).pending() == []
    assert "the window system ended the app" in (tmp_path / LOG_FILE).read_text()


def test_an_uncaught_exception_writes_a_report(tmp_path: Path) -> None:
    result = _child(
        f"""
        from pathlib import Path
        from app.ui.crash_report import CrashReporter
        CrashReporter(Path({str(tmp_path)!r})).install()
        raise RuntimeError("boom for {PHONE}")
        """,
        tmp_path,
    )
    assert result.returncode == 1 and "RuntimeError" in result.stderr  # still printed
    (report,) = CrashReporter(tmp_path).pending()
    text = report.read_text()
    assert f"Web2Text {app.__version__} crash report" in text and "where: main thread" in text
    assert "RuntimeError: boom for +1 312 ***-**43" in text and PHONE not in text


def test_an_unexpected_desktop_error_reaches_the_log_and_a_crash_report(tmp_path: Path) -> None:
    """An error nobody planned for (`app.ui.unexpected.report`, e.g. an engine that
    would not start) is logged and written as a crash report for the support issue."""
    result = _child(
        f"""
        from app.ui import unexpected
        from app.ui.support import DesktopSupport
        DesktopSupport.start("INFO")
        unexpected.report("engine start", RuntimeError("odd answer for {PHONE}"))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (report,) = CrashReporter(tmp_path).pending()
    text = report.read_text()
    assert "where: engine start" in text and "RuntimeError: odd answer for +1 312" in text
    assert PHONE not in text
    logged = (tmp_path / LOG_FILE).read_text()
    assert "unexpected error in engine start: RuntimeError" in logged and PHONE not in logged


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_and_an_asyncio_task_write_reports(tmp_path: Path) -> None:
    import asyncio

    reporter = CrashReporter(tmp_path)
    reporter.install()
    try:
        worker = threading.Thread(target=lambda: 1 / 0, name="worker-1")
        worker.start()
        worker.join()
        loop = asyncio.new_event_loop()
        try:
            reporter.asyncio_handler(loop, {"message": "Task exception was never retrieved",
                                            "exception": KeyError("lost")})
        finally:
            loop.close()
    finally:
        reporter.uninstall()
    texts = [p.read_text() for p in reporter.pending()]
    assert any("thread worker-1" in t and "ZeroDivisionError" in t for t in texts)
    assert any("where: asyncio" in t and "KeyError: 'lost'" in t for t in texts)


def test_a_hard_crash_is_reported_at_the_next_start(tmp_path: Path) -> None:
    result = _child(
        f"""
        import faulthandler
        from pathlib import Path
        from app.ui.crash_report import CrashReporter
        CrashReporter(Path({str(tmp_path)!r})).install()
        faulthandler._sigsegv()
        """,
        tmp_path,
    )
    assert result.returncode < 0  # killed by the signal
    assert (tmp_path / FAULT_FILE).read_text().strip()
    assert CrashReporter(tmp_path).pending() == []  # nothing until the next start
    reporter = CrashReporter(tmp_path)
    reporter.install()  # the next start
    reporter.uninstall()
    (report,) = reporter.pending()
    assert "Segmentation fault" in report.read_text() and "faulthandler" not in report.name
    assert (tmp_path / FAULT_FILE).read_text() == ""  # a clean run leaves it empty


def test_the_crash_prompt_offers_the_report_once(tmp_path: Path, qtbot: Any) -> None:
    reporter = CrashReporter(tmp_path)
    reporter.write("main thread", "Traceback ...\nRuntimeError: boom")
    prompt = offer_reports(reporter)
    assert isinstance(prompt, CrashPrompt)
    qtbot.addWidget(prompt)
    assert prompt.isVisible() and prompt.windowTitle() == TITLE
    assert "RuntimeError: boom" in prompt.preview.toPlainText()
    prompt.copy_report()
    assert "RuntimeError: boom" in QGuiApplication.clipboard().text()
    prompt.reject()
    assert reporter.pending() == []  # seen: not offered again
    assert offer_reports(reporter) is None


# ----------------------------------------------------------------- About


def test_about_shows_version_relay_folders_and_licences(tmp_path: Path, qtbot: Any) -> None:
    about = AboutDialog("https://relay.example.com", tmp_path / "data", tmp_path / "logs")
    qtbot.addWidget(about)
    facts = {label.accessibleName(): label.text() for label in about.findChildren(QLabel)}
    assert facts["Version"] == app.__version__
    assert facts["Relay"] == "https://relay.example.com"
    assert facts["Data folder"] == str(tmp_path / "data")
    assert facts["Log folder"] == str(tmp_path / "logs")
    licences = about.licences.toPlainText()
    assert "PySide6" in licences and "(LGPL-3.0" in licences and "moto" in licences
    assert app.__version__ in about.details()


def test_help_menu_opens_about(qtbot: Any) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    shown: list[bool] = []
    action = add_help_menu(window, lambda: shown.append(True))
    assert action.text().replace("&", "") == "About Web2Text"
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["Help"]
    action.trigger()
    assert shown == [True]


# ----------------------------------------------------------------- one instance


def test_a_second_claim_wakes_the_first(tmp_path: Path, qtbot: Any) -> None:
    name = server_name(tmp_path, demo=False)
    assert name != server_name(tmp_path, demo=True) != server_name(tmp_path / "b", demo=False)
    first = SingleInstance(name)
    first.claim()
    try:
        with qtbot.waitSignal(first.activated, timeout=10_000), pytest.raises(AlreadyRunning):
            SingleInstance(name).claim()
    finally:
        first.close()
    again = SingleInstance(name)
    again.claim()  # free again once the first closed
    assert again.server is not None
    again.close()


def test_a_crashed_runs_name_is_taken_over(tmp_path: Path) -> None:
    name = server_name(tmp_path, demo=False)
    path = Path(QDir.tempPath()) / name
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))  # bound, never listening: what a killed process leaves
    leftover.close()
    try:
        instance = SingleInstance(name)
        instance.claim()
        assert instance.server is not None and instance.server.isListening()
        instance.close()
    finally:
        path.unlink(missing_ok=True)


def test_a_second_launch_brings_the_running_window_forward(tmp_path: Path) -> None:
    env = {**os.environ, "W2T_LOG_DIR": str(tmp_path / "logs"), "QT_QPA_PLATFORM": "offscreen",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("W2T_TOKEN", None)
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "app.ui.main", "--data-dir", str(data)]
    first = subprocess.Popen([*cmd, "--quit-after", "120"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log_file = tmp_path / "logs" / LOG_FILE
        deadline = time.monotonic() + 60
        probe = SingleInstance(server_name(data, demo=False))
        while not probe.running():  # until the first one listens
            assert first.poll() is None, first.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the first instance never listened"
            time.sleep(0.1)
        assert "a second launch asked for the window" not in log_file.read_text()
        second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "already running" in second.stderr and "store_in_use" not in second.stderr
        while "a second launch asked for the window" not in log_file.read_text():
            assert time.monotonic() < deadline, log_file.read_text()[-2000:]
            time.sleep(0.1)
    finally:
        first.terminate()
        first.communicate(timeout=60)


# ----------------------------------------------------------------- updates


def _window(qtbot: Any) -> QMainWindow:
    window = QMainWindow()
    window.setCentralWidget(QLabel("inbox"))
    qtbot.addWidget(window)
    window.show()
    return window


def test_update_banner_offers_and_blocks(qtbot: Any) -> None:
    window = _window(qtbot)
    check = UpdateCheck(window)
    assert check.apply({"latestAppVersion": "999.0"}) is UpdateState.AVAILABLE
    assert check.bar.isVisible() and "999.0 is available" in check.banner.label.text()
    assert check.banner.dismiss.isVisible() and window.centralWidget().isEnabled()
    check.banner.dismiss.click()
    assert not check.bar.isVisible()  # "Later"
    assert check.apply({"minAppVersion": "999.0", "latestAppVersion": "999.1"}) \
        is UpdateState.REQUIRED
    assert check.bar.isVisible() and check.banner.property("kind") == "danger"
    assert not check.banner.dismiss.isVisible()
    assert not window.centralWidget().isEnabled()  # blocked until updated
    assert check.apply({"minAppVersion": app.__version__}) is UpdateState.CURRENT
    assert not check.bar.isVisible() and window.centralWidget().isEnabled()


@pytest.mark.dynamodb
def test_update_banner_follows_what_the_relay_says(
    dynamodb_endpoint: str, tmp_path: Path, qtbot: Any, run: Any
) -> None:
    """The relay's versions reach the banner through the sync layer's `Me` (the
    UI has no HTTP client of its own): from /v1/me, through the local store."""
    from app.sync import store
    from app.sync.client import RelayClient, check_staff_key
    from app.sync.db import Database
    from tests.support.relay import issue_staff_key, seed_dealer, start_relay

    relay = start_relay(dynamodb_endpoint, background=False, min_app_version="999.0",
                        latest_app_version="999.1")
    try:
        seed = seed_dealer(relay, web2text_number="+13125550179")
        key = issue_staff_key(relay, seed.retailer_id, [seed.location_id], staff_id="u1")
        checked = run(check_staff_key(relay.url, key))
        assert (checked.min_app_version, checked.latest_app_version) == ("999.0", "999.1")
        client = RelayClient(relay.url, key)
        try:
            staff = run(client.me())
        finally:
            run(client.aclose())
    finally:
        relay.stop()
    db = Database.open(tmp_path)  # the engine's store, kept across restarts
    try:
        db.writer.call(store.save_me, staff)
        me = db.reader.call(store.get_me)
    finally:
        db.close()
    assert me.min_app_version == "999.0" and me.latest_app_version == "999.1"
    check = UpdateCheck(_window(qtbot))
    assert check.follow(lambda: me) is UpdateState.REQUIRED
    assert check.follow(lambda: None) is None  # before the relay answered: nothing changes
    assert check.banner.state is UpdateState.REQUIRED
    check.stop()


# ----------------------------------------------------------------- start at sign-in


def test_start_at_sign_in_writes_and_removes_the_login_item(tmp_path: Path, qtbot: Any) -> None:
    item = Autostart(platform="linux", home=tmp_path, config_dir=tmp_path / "cfg",
                     command=["/opt/web2text/web2text"])
    option = AutostartOption(item=item)
    qtbot.addWidget(option)
    assert option.text() == LABEL and not option.isChecked()
    option.setChecked(True)
    assert option.apply() is None
    entry = tmp_path / "cfg" / "autostart" / "web2text.desktop"
    assert "Exec=/opt/web2text/web2text" in entry.read_text()
    assert AutostartOption(item=item).isChecked()
    option.setChecked(False)
    assert option.apply() is None and not entry.exists()


def test_settings_dialog_has_the_start_at_sign_in_option(tmp_path: Path, qtbot: Any) -> None:
    from app.ui.settings import Settings
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings.load(tmp_path / "settings.json"))
    qtbot.addWidget(dialog)
    assert dialog.autostart.accessibleName() == LABEL

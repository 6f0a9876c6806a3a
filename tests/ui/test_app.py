"""The application: profiles and keyring, sign-in flow, tray/close behaviour, in-window
notices, kiosk lock and staff switch, settings, and quitting without hanging."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.sync.api import ChangesApplied, Me, SyncState, SyncStatus
from app.ui.controller import AppController, Options
from app.ui.profiles import KEYRING_SERVICE, KeyringUnavailable, Profile, ProfileStore, Secrets
from app.ui.settings import Settings
from app.ui.settings_dialog import SettingsDialog
from tests.ui.conftest import MemoryKeyring, activate
from tests.ui.fake_engine import FakeEngine, demo_engine

ROOT = Path(__file__).resolve().parents[2]


def make_controller(
    tmp_path: Path, engines: dict[str, FakeEngine], *, kiosk: bool = False, tray: bool = False
) -> AppController:
    def factory(profile: Profile, key: str, data_dir: Path) -> FakeEngine:
        e = engines.get(profile.staff_id) or demo_engine()
        e._me = Me(profile.staff_id, profile.staff_name, "ret-1", ("loc-1", "loc-2"))
        e.key_used = key  # type: ignore[attr-defined]
        e.data_dir = data_dir  # type: ignore[attr-defined]
        engines[profile.staff_id] = e
        return e

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return AppController(
        app,
        Options(data_dir=tmp_path, kiosk=kiosk),
        engine_factory=factory,
        tray_available=tray,
        env={},
    )


def patient(engine: FakeEngine) -> FakeEngine:
    """Reply targets long enough that no lead escalates (tests/ui/test_escalation.py):
    the notifications a test counts are the inbound ones only."""
    for ident, row in engine.locations.items():
        engine.locations[ident] = replace(row, reply_target_minutes=10**6)
    return engine


def provision(tmp_path: Path, *staff: tuple[str, str], key_prefix: str = "key-") -> list[Profile]:
    store = ProfileStore(tmp_path)
    secrets = Secrets()
    out = []
    for staff_id, name in staff:
        p = Profile(staff_id, name, "https://relay.example.com", "ret-1")
        store.save(p)
        secrets.put(p, key_prefix + staff_id)
        out.append(p)
    return out


def test_profiles_and_keyring_roundtrip(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    store = ProfileStore(tmp_path)
    a = Profile("s1", "Ann", "https://relay.example.com")
    b = Profile("s2", "Bo", "https://relay.example.com")
    store.save(a)
    store.save(b)
    assert [p.staff_id for p in store.profiles()] == ["s1", "s2"]
    assert store.last_used() == b
    store.save(a)
    assert store.last_used() == a
    Secrets().put(a, "secret-a")
    assert memory_keyring.store[(KEYRING_SERVICE, "https://relay.example.com|s1")] == "secret-a"
    # the key never lands in a file
    assert "secret-a" not in (tmp_path / "profiles.json").read_text()
    assert store.engine_dir(a) != store.engine_dir(b)
    store.remove(a)
    assert store.profiles() == [b]


def test_no_keyring_backend_is_a_clear_error(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        secrets = Secrets()
        p = Profile("s1", "Ann", "https://relay.example.com")
        assert not secrets.available()
        with pytest.raises(KeyringUnavailable) as info:
            secrets.put(p, "k")
        assert info.value.reason == "keyring_unavailable"
        assert "W2T_TOKEN" in str(info.value) and "keyring" in str(info.value)
        assert secrets.get(p) is None
        secrets.remember_for_session(p, "k")
        assert secrets.get(p) == "k"
    finally:
        keyring.set_keyring(previous)


def test_start_with_saved_profile_then_quit(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engines: dict[str, FakeEngine] = {}
    ctrl = make_controller(tmp_path, engines)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.window.isVisible())
    e = engines["staff-1"]
    assert e.key_used == "key-staff-1"  # type: ignore[attr-defined]
    assert e.data_dir == tmp_path / "profiles" / "staff-1"  # type: ignore[attr-defined]
    assert "Dana Whitfield" in ctrl.window.windowTitle()
    assert not ctrl.window.sidebar.demo_badge.isVisibleTo(ctrl.window)  # only the demo is marked
    qtbot.waitUntil(lambda: ctrl.window.leads_model.rowCount() == len(e.leads))
    started = time.monotonic()
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=60_000)
    # an engine that does not stop is given up on after 10 s (_close_engine): a quit
    # under that bound stopped it, however busy the machine
    assert task.result() == 0 and time.monotonic() - started < 10
    assert e.stopped and not e.listeners
    assert ctrl.window.tasks.running == 0 and ctrl.tasks.running == 0


def test_first_run_shows_sign_in_and_cancel_quits(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    ctrl = make_controller(tmp_path, {})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible())
    dlg = ctrl.signin
    assert dlg is not None
    assert (
        dlg.url_edit.accessibleName() == "Relay URL"
        and dlg.key_edit.accessibleName() == "Staff key"
    )
    # a plain-http, non-loopback relay is refused before any key is sent
    qtbot.keyClicks(dlg.url_edit, "http://relay.example.com")
    qtbot.keyClicks(dlg.key_edit, "abc")
    qtbot.mouseClick(dlg.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.error_label.isVisible())
    assert "https://" in dlg.error_label.text()
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.waitUntil(task.done, timeout=5000)
    assert ctrl.engine is None


def test_close_keeps_app_in_tray_and_inbound_notifies(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engines: dict[str, FakeEngine] = {"staff-1": patient(demo_engine())}
    ctrl = make_controller(tmp_path, engines, tray=True)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None)
    e = engines["staff-1"]
    qtbot.waitUntil(lambda: ctrl.tray.unread == 4)
    assert ctrl.tray.icon is not None and "4 unread" in ctrl.tray.icon.toolTip()
    ctrl.window.close()
    assert not ctrl.window.isVisible() and not task.done()
    lead = next(d for d in e.leads.values() if d.name == "Priya Raman")
    e.receive(lead.lead_id, "Are you open Sunday?")
    qtbot.waitUntil(lambda: len(ctrl.tray.shown) == 1)
    n = ctrl.tray.shown[0]
    assert (n.title, n.body) == ("Priya Raman", "Are you open Sunday?")
    qtbot.waitUntil(lambda: ctrl.tray.unread == 5)
    # clicking the notification opens that conversation
    ctrl.tray.icon.messageClicked.emit()
    qtbot.waitUntil(
        lambda: (
            ctrl.window.isVisible()
            and ctrl.window.current is not None
            and ctrl.window.current.lead_id == lead.lead_id
        )
    )
    # Quit from the tray menu
    ctrl.tray.quit_action.trigger()
    qtbot.waitUntil(task.done, timeout=5000)
    assert e.stopped


def test_no_tray_gives_in_window_notice_and_close_quits(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engines: dict[str, FakeEngine] = {"staff-1": patient(demo_engine())}
    ctrl = make_controller(tmp_path, engines, tray=False)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None)
    e = engines["staff-1"]
    lead = next(d for d in e.leads.values() if d.name == "Priya Raman")
    e.receive(lead.lead_id, "Hello there")
    qtbot.waitUntil(lambda: ctrl.window.notice.isVisible())
    assert "Priya Raman" in ctrl.window.notice.label.text()
    qtbot.mouseClick(ctrl.window.notice_open, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: ctrl.window.current is not None and ctrl.window.current.lead_id == lead.lead_id
    )
    # the conversation is open in the focused window: no notice for it
    activate(ctrl.window, qtbot)
    ctrl.window.notice.hide()
    e.receive(lead.lead_id, "Still there?")
    qtbot.wait(100)
    assert not ctrl.window.notice.isVisible()
    ctrl.window.close()  # no tray to live in: closing quits
    qtbot.waitUntil(task.done, timeout=5000)


def test_first_catch_up_is_silent(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engines: dict[str, FakeEngine] = {}
    e = demo_engine()
    engines["staff-1"] = e

    async def start_syncing() -> None:  # the engine is still catching up when it reports messages
        e.started = True
        e.set_status(SyncStatus(SyncState.SYNCING))

    e.start = start_syncing  # type: ignore[method-assign]
    ctrl = make_controller(tmp_path, engines, tray=True)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None)
    lead = next(iter(e.leads.values()))
    e.receive(lead.lead_id, "old news", during_catch_up=True)
    e.set_status(SyncStatus(SyncState.ONLINE))
    e.receive(lead.lead_id, "fresh", during_catch_up=False)
    qtbot.waitUntil(lambda: len(ctrl.tray.shown) == 1)
    assert ctrl.tray.shown[0].body == "fresh"
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_kiosk_locks_when_idle_and_switches_staff(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    ann, _bo = provision(tmp_path, ("s-ann", "Ann Lee"), ("s-bo", "Bo Diaz"))
    ProfileStore(tmp_path).save(ann)
    engines: dict[str, FakeEngine] = {}
    ctrl = make_controller(tmp_path, engines, kiosk=True)
    ctrl.settings.idle_lock_minutes = 1
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.idle is not None)
    w = ctrl.window
    assert w.isFullScreen()
    w.close()  # a kiosk cannot be closed
    assert w.isVisible()
    assert ctrl.idle is not None
    ctrl.idle.set_minutes(0.002)  # ~120 ms of no input
    qtbot.waitUntil(ctrl.lock_screen.isVisible, timeout=3000)
    ctrl.idle.set_minutes(10)  # no second lock while the test drives the window
    buttons = {
        b.accessibleName(): b
        for b in ctrl.lock_screen.findChildren(type(w.notice_open))
        if b.accessibleName() in ("Ann Lee", "Bo Diaz")
    }
    assert set(buttons) == {"Ann Lee", "Bo Diaz"}
    qtbot.mouseClick(buttons["Bo Diaz"], Qt.MouseButton.LeftButton)
    # Bo's first unlock: he chooses a PIN, typed twice
    panel = ctrl.lock_screen.pin_panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.repeat_edit.isVisible())
    assert ctrl.profile is not None and ctrl.profile.staff_id == "s-ann"  # not yet
    qtbot.keyClicks(panel.pin_edit, "2468")
    qtbot.keyClicks(panel.repeat_edit, "2469")
    qtbot.keyClick(panel.repeat_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "not the same" in panel.error.text())
    qtbot.keyClicks(panel.pin_edit, "2468")
    qtbot.keyClicks(panel.repeat_edit, "2468")
    qtbot.keyClick(panel.repeat_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: (
            ctrl.profile is not None
            and ctrl.profile.staff_id == "s-bo"
            and not ctrl.lock_screen.isVisible()
        )
    )
    assert "2468" not in (tmp_path / "pins.json").read_text()  # a salted hash only
    assert engines["s-ann"].stopped and engines["s-bo"].key_used == "key-s-bo"  # type: ignore[attr-defined]
    assert "Bo Diaz" in w.windowTitle()
    # Bo's messages are written as Bo
    qtbot.waitUntil(lambda: w.leads_model.rowCount() > 0)
    from tests.ui.conftest import open_lead

    open_lead(w, qtbot, "Maria Gonzalez")
    qtbot.keyClicks(w.pane.composer.edit, "Hi from Bo")
    qtbot.keyClick(w.pane.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: any(
            m.body == "Hi from Bo" and m.author_name == "Bo Diaz"
            for ms in engines["s-bo"].messages.values()
            for m in ms
        )
    )
    # the Lock button locks at once
    qtbot.mouseClick(w.sidebar.lock_button, Qt.MouseButton.LeftButton)
    assert ctrl.lock_screen.isVisible()
    # "Add staff…" opens the sign-in dialog on this relay; cancelled, the lock stays
    qtbot.mouseClick(ctrl.lock_screen.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible())
    dlg = ctrl.signin
    assert dlg is not None and dlg.url_edit.text() == "https://relay.example.com"
    dlg.reject()
    qtbot.waitUntil(lambda: ctrl.signin is None)
    assert ctrl.lock_screen.isVisible() and ctrl.profile.staff_id == "s-bo"
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_settings_dialog_manages_templates(tmp_path: Path, qtbot: Any, loop: Any) -> None:
    settings = Settings()
    dlg = SettingsDialog(settings)
    qtbot.addWidget(dlg)
    dlg.show()
    n = dlg.list.count()
    qtbot.mouseClick(dlg.add_button, Qt.MouseButton.LeftButton)
    assert dlg.list.count() == n + 1
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, "Hours")
    dlg.body_edit.clear()
    qtbot.keyClicks(dlg.body_edit, "Hi {first_name}, we're open 9-6 at {location_name}.")
    saved: list[Settings] = []
    dlg.saved.connect(saved.append)
    save = next(b for b in dlg.findChildren(type(dlg.add_button)) if b.text() == "Save")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert saved and saved[0].templates[-1].name == "Hours"
    saved[0].save(tmp_path / "settings.json")
    again = Settings.load(tmp_path / "settings.json")
    assert again.templates[-1].body.startswith("Hi {first_name}")

    bad = SettingsDialog(Settings())
    qtbot.addWidget(bad)
    bad.show()
    bad.body_edit.clear()
    qtbot.keyClicks(bad.body_edit, "Hi {nickname}")
    save = next(b for b in bad.findChildren(type(bad.add_button)) if b.text() == "Save")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert bad.error.isVisible() and "nickname" in bad.error.text()


def test_settings_idle_lock_is_chosen_from_the_keyboard(qtbot: Any, loop: Any) -> None:
    dlg = SettingsDialog(Settings(idle_lock_minutes=7))  # saved by hand: offered too
    qtbot.addWidget(dlg)
    dlg.show()
    labels = [dlg.idle.itemText(i) for i in range(dlg.idle.count())]
    assert labels[:5] == ["1 min", "2 min", "5 min", "7 min", "10 min"]
    assert labels[-3:] == ["1 hour", "2 hours", "4 hours"]
    assert dlg.idle.currentText() == "7 min"
    dlg.idle.setFocus()
    qtbot.keyClick(dlg.idle, Qt.Key.Key_Down)
    qtbot.keyClick(dlg.idle, Qt.Key.Key_Down)
    assert dlg.idle.currentText() == "15 min"
    saved: list[Settings] = []
    dlg.saved.connect(saved.append)
    save = next(b for b in dlg.findChildren(type(dlg.add_button)) if b.text() == "Save")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert saved and saved[0].idle_lock_minutes == 15


def test_changes_refresh_tray_unread(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engines: dict[str, FakeEngine] = {}
    ctrl = make_controller(tmp_path, engines, tray=True)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.tray.unread == 4)
    e = engines["staff-1"]
    for sid in list(e.unread):
        e.unread[sid] = 0
    e.emit(ChangesApplied(local=True))
    qtbot.waitUntil(lambda: ctrl.tray.unread == 0)
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def run_app(
    args: list[str], tmp_path: Path, timeout: float = 30, **env: str
) -> tuple[int, float, str]:
    full_env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        **env,
    }
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "app.ui.main", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, time.monotonic() - started, proc.stderr + proc.stdout


def test_version_flag(tmp_path: Path) -> None:
    code, _, out = run_app(["--version"], tmp_path)
    assert code == 0 and out.strip().startswith("web2text ")


def test_quit_after_does_not_hang(tmp_path: Path) -> None:
    # first run: the sign-in dialog is open; --quit-after still ends the app cleanly
    # a hang is run_app's timeout (an exception); a slow machine just takes longer
    code, _, out = run_app(["--data-dir", str(tmp_path), "--quit-after", "1"], tmp_path,
                           timeout=180)
    assert code == 0, out


def test_demo_without_sandbox_module_is_a_clear_message(tmp_path: Path) -> None:
    try:
        import app.sandbox.demo  # noqa: F401
    except ImportError:
        code, _, out = run_app(["--demo", "--data-dir", str(tmp_path)], tmp_path)
        assert code == 2 and "demo is not part of this build" in out
    else:
        pytest.skip("app.sandbox.demo exists: --demo is covered by test_e2e_relay")


def test_without_keyring_the_key_is_kept_for_the_session_with_a_notice(
    tmp_path: Path, qtbot: Any, loop: Any, run: Any
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        ctrl = make_controller(tmp_path, {})
        qtbot.addWidget(ctrl.window)  # closed after the test: not left under the pointer
        ctrl.window.show()
        p = Profile("s1", "Ann", "https://relay.example.com")
        run(ctrl.sign_in.store_key(p, "session-key"))
        assert ctrl.window.notice.isVisible()
        assert "W2T_TOKEN" in ctrl.window.notice.label.text()
        assert ctrl.secrets.get(p) == "session-key"
        assert "session-key" not in "".join(f.read_text() for f in tmp_path.glob("*.json"))
    finally:
        keyring.set_keyring(previous)


def test_theme_follows_light_and_dark(qapp: QApplication) -> None:
    from PySide6.QtGui import QPalette

    from app.ui import theme

    manager = theme.ThemeManager(qapp, force="dark")
    try:
        assert theme.current().dark
        assert (
            qapp.palette().color(QPalette.ColorRole.Window).name().lower()
            == theme.DARK.window.lower()
        )
        assert theme.DARK.surface in qapp.styleSheet()
        manager._force = "light"
        manager.apply()
        assert not theme.current().dark
        assert (
            qapp.palette().color(QPalette.ColorRole.Window).name().lower()
            == theme.LIGHT.window.lower()
        )
    finally:
        manager._force = "light"
        manager.apply()


def test_deleted_window_cancels_its_pending_loads(qtbot: Any, loop: Any) -> None:
    # A window deleted while a load is awaiting (a test's teardown, a parent going
    # away) must not resume into its deleted widgets: the load is cancelled, and no
    # "Internal C++ object already deleted" error is logged.
    from app.ui.mainwindow import MainWindow

    window = MainWindow(tray_available=False)
    gate: asyncio.Future[None] = loop.create_future()
    touched: list[str] = []

    async def load() -> None:
        await gate
        touched.append(window.sidebar.location.currentText())

    task = window.tasks.spawn(load())
    errors = window.tasks.errors
    window.deleteLater()
    qtbot.waitUntil(task.done, timeout=5000)
    gate.set_result(None)
    qtbot.wait(50)
    assert task.cancelled() and touched == [] and errors == []


def test_keyboard_works_before_any_engine_starts(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    # First run: the sign-in dialog is up and no engine exists, yet the window's
    # shortcuts are there once its first rows (or none, after a moment) are shown.
    # (Offscreen, the window does not become active behind the modal dialog, so
    # the shortcuts are checked rather than typed; test_inbox and test_conversation
    # type them.)
    from PySide6.QtGui import QKeySequence, QShortcut

    ctrl = make_controller(tmp_path, {})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible())
    ctrl.after_first_rows()  # what the start-up timer does after a few seconds
    assert ctrl.engine is None
    w = ctrl.window
    keys = {s.key().toString(): s for s in w.findChildren(QShortcut)}
    assert {"Ctrl+K", "Ctrl+F", "Alt+Up", "Alt+Down", "Esc"} <= set(keys)
    assert keys["Ctrl+F"].key() == QKeySequence("Ctrl+F") and keys["Ctrl+F"].isEnabled()
    dlg = ctrl.signin
    assert dlg is not None
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.waitUntil(task.done, timeout=5000)


def test_kiosk_pin_slows_down_wrong_tries_and_ctrl_l_locks(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    from app.core.pin import hash_pin
    from app.ui.kiosk_pin import PinGate

    ann, bo = provision(tmp_path, ("s-ann", "Ann Lee"), ("s-bo", "Bo Diaz"))
    ProfileStore(tmp_path).save(ann)
    engines: dict[str, FakeEngine] = {}
    ctrl = make_controller(tmp_path, engines, kiosk=True)
    # the wait after five wrong PINs is shortened (30 s in the app: tests/core/test_pin.py)
    ctrl.pins = PinGate(tmp_path, wait_s=0.5)
    ctrl.pins.store.put(bo, hash_pin("1357"))
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.idle is not None)
    ctrl.idle.set_minutes(10)
    w = ctrl.window
    w.finish_build()
    activate(w, qtbot)
    # Ctrl+L locks at once, from anywhere in the window
    qtbot.keyClick(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    lock = ctrl.lock_screen
    qtbot.waitUntil(lock.isVisible)
    # the names are reached by keyboard: Bo's button, then Space
    bo_button = next(b for b in lock._name_buttons() if b.accessibleName() == "Bo Diaz")
    bo_button.setFocus()
    qtbot.keyClick(bo_button, Qt.Key.Key_Space)
    panel = lock.pin_panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.pin_edit.hasFocus())
    assert not panel.repeat_edit.isVisible()  # Bo has a PIN: typed once
    assert panel.accessibleName() == "PIN for Bo Diaz"
    # Escape goes back to the names, without unlocking
    qtbot.keyClick(panel.pin_edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not panel.isVisible() and bo_button.isVisible())
    qtbot.mouseClick(bo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.isVisible())
    for left in (4, 3, 2, 1):
        qtbot.keyClicks(panel.pin_edit, "0000")
        qtbot.keyClick(panel.pin_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda left=left: f"{left} tr" in panel.error.text())
    qtbot.keyClicks(panel.pin_edit, "0000")
    qtbot.keyClick(panel.pin_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Too many wrong PINs" in panel.error.text())
    assert not panel.pin_edit.isEnabled() and not panel.unlock_button.isEnabled()
    # while it waits, even the right PIN is not checked
    from app.ui.kiosk_pin import Outcome

    checked = asyncio.ensure_future(ctrl.pins.check(bo, "1357"))
    qtbot.waitUntil(checked.done)
    assert checked.result().outcome is Outcome.WAIT
    # the wait ends by itself; then the right PIN unlocks as Bo
    qtbot.waitUntil(panel.pin_edit.isEnabled, timeout=5000)
    qtbot.keyClicks(panel.pin_edit, "1357")
    qtbot.keyClick(panel.pin_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: (
            ctrl.profile is not None and ctrl.profile.staff_id == "s-bo" and not lock.isVisible()
        )
    )
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_sign_out_removes_the_key_and_forget_this_pc_the_local_data(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    ann, bo = provision(tmp_path, ("s-ann", "Ann Lee"), ("s-bo", "Bo Diaz"))
    store = ProfileStore(tmp_path)
    store.save(ann)
    engines: dict[str, FakeEngine] = {}
    ctrl = make_controller(tmp_path, engines)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None)
    w = ctrl.window
    # the account menu (a toolbar button reached with Tab) offers switch, lock, sign out
    side = w.sidebar
    assert side.account_button.accessibleName() == "Account menu"
    assert side.account_button.isVisibleTo(w)
    menu = side.account_button.menu()
    assert menu is not None
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Switch staff…",
        "Lock",
        "Sign out…",
    ]
    # sign out Ann: confirmed with Enter (the default button); her data stays
    side.sign_out_action.trigger()
    qtbot.waitUntil(lambda: ctrl.sign_out_dialog is not None and ctrl.sign_out_dialog.isVisible())
    dlg = ctrl.sign_out_dialog
    assert dlg is not None and not dlg.forget_box.isChecked()
    qtbot.keyClick(dlg, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ctrl.lock_screen.isVisible())
    assert engines["s-ann"].stopped and ctrl.engine is None
    assert (KEYRING_SERVICE, ann.key_user) not in memory_keyring.store
    assert (KEYRING_SERVICE, bo.key_user) in memory_keyring.store
    assert {p.staff_id for p in store.profiles()} == {"s-ann", "s-bo"}  # listed: to sign in
    # the menu's "Switch staff…" is the same list of names; Bo picks himself
    lock = ctrl.lock_screen
    bo_button = next(b for b in lock._name_buttons() if b.accessibleName() == "Bo Diaz")
    qtbot.mouseClick(bo_button, Qt.MouseButton.LeftButton)
    panel = lock.pin_panel
    qtbot.waitUntil(panel.isVisible)
    qtbot.keyClicks(panel.pin_edit, "8642")
    qtbot.keyClicks(panel.repeat_edit, "8642")
    qtbot.keyClick(panel.repeat_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.profile == bo)
    bo_dir = store.engine_dir(bo)
    bo_dir.mkdir(parents=True, exist_ok=True)
    (bo_dir / "store.sqlite3").write_bytes(b"Bo's conversations")
    # sign out Bo and forget this PC: the checkbox by keyboard, then Enter
    side.sign_out_action.trigger()
    qtbot.waitUntil(lambda: ctrl.sign_out_dialog is not dlg and ctrl.sign_out_dialog.isVisible())
    dlg = ctrl.sign_out_dialog
    dlg.forget_box.setFocus()
    qtbot.keyClick(dlg.forget_box, Qt.Key.Key_Space)
    assert dlg.sign_out_button.accessibleName() == "Sign out and forget"
    qtbot.keyClick(dlg, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not bo_dir.exists())
    qtbot.waitUntil(lambda: lock.isVisible() and ctrl.engine is None)
    assert (KEYRING_SERVICE, bo.key_user) not in memory_keyring.store
    assert [p.staff_id for p in store.profiles()] == ["s-ann"]
    assert bo.key_user not in (tmp_path / "pins.json").read_text()
    assert [b.accessibleName() for b in lock._name_buttons()] == ["Ann Lee"]
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_sign_out_of_the_last_profile_asks_who_signs_in(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    (ann,) = provision(tmp_path, ("s-ann", "Ann Lee"))
    engines: dict[str, FakeEngine] = {}
    ctrl = make_controller(tmp_path, engines)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None)
    ctrl.window.sidebar.sign_out_action.trigger()
    qtbot.waitUntil(lambda: ctrl.sign_out_dialog is not None and ctrl.sign_out_dialog.isVisible())
    dlg = ctrl.sign_out_dialog
    dlg.forget_box.setChecked(True)
    dlg.sign_out_button.click()
    # nobody is left on this PC: the sign-in dialog; cancelled, the app ends
    qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible())
    assert ProfileStore(tmp_path).profiles() == []
    assert (KEYRING_SERVICE, ann.key_user) not in memory_keyring.store
    ctrl.signin.reject()
    qtbot.waitUntil(task.done, timeout=5000)

"""Start-up order and refresh coalescing: the stored inbox painted with the window,
clicks before the engine is up, the first page before the count, and bursts of engine
changes folded into few refreshes that still show what changed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.sync import store
from app.sync.api import ChangesApplied, LeadFilter
from app.sync.db import Database
from app.ui.controller import AppController, Options
from app.ui.leads_model import LeadsModel
from app.ui.mainwindow import MainWindow
from app.ui.profiles import Profile, ProfileStore, Secrets
from app.ui.tasks import Tasks
from tests.sync.fake_relay import change, lead_data
from tests.ui.conftest import MemoryKeyring
from tests.ui.fake_engine import FakeEngine, demo_engine, install_fake_demo


def names(model: LeadsModel) -> list[str]:
    return [model.row_at(i).name for i in range(model.rowCount())]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- coalescing


def test_burst_of_changes_is_one_refresh_that_shows_the_new_row(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    qtbot.wait(300)  # the start-up reloads are done
    before = engine.calls.count("list_leads")
    new = engine.add_lead("Zed Newcomer", "+13125550999", minutes_ago=0)
    for _ in range(60):  # what a busy stream delivers within a few milliseconds
        engine.emit(ChangesApplied(lead_ids=frozenset({new.lead_id})))
    qtbot.waitUntil(lambda: names(window.leads_model)[:1] == ["Zed Newcomer"])
    qtbot.wait(LeadsModel.COALESCE_MS * 3)
    # 60 change events, at most two queries (one coalesced reload, plus one for changes
    # that arrived while it ran), never one per event
    assert 1 <= engine.calls.count("list_leads") - before <= 2
    assert window.sidebar.count_label.text() == f"{len(engine.leads)} leads"


def test_changes_spread_over_time_keep_refreshing(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    """Coalescing must not starve: a steady trickle still shows each new lead."""
    for i in range(3):
        new = engine.add_lead(f"Trickle {i}", f"+1312555098{i}", minutes_ago=-i)
        engine.emit(ChangesApplied(lead_ids=frozenset({new.lead_id})))
        qtbot.waitUntil(lambda i=i: names(window.leads_model)[:1] == [f"Trickle {i}"])


def test_a_sustained_stream_refreshes_a_few_times_a_second_and_ends_current(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    qtbot.wait(600)  # quiet: the start-up refreshes are over
    before = engine.calls.count("list_leads")
    for i in range(40):  # a change every 30 ms for 1.2 s
        new = engine.add_lead(f"Stream {i:02d}", f"+131255507{i:02d}", minutes_ago=-i)
        engine.emit(ChangesApplied(lead_ids=frozenset({new.lead_id})))
        qtbot.wait(30)
    qtbot.waitUntil(lambda: names(window.leads_model)[:1] == ["Stream 39"])
    refreshes = engine.calls.count("list_leads") - before
    # ~1.2 s of changes: one refresh per 100 ms would be 12+; in a burst it is 4 a second
    assert 2 <= refreshes <= 8, refreshes


def test_first_page_paints_before_the_count_arrives(qtbot: Any, run: Any) -> None:
    e = FakeEngine()
    e.add_location("loc-1", "Store")
    for i in range(150):
        e.add_lead(f"Customer {i:03d}", f"+1312555{i:04d}", minutes_ago=i)
    order: list[str] = []
    model = LeadsModel(Tasks())
    model.loaded.connect(lambda: order.append(f"rows:{model.rowCount()}"))
    model.countChanged.connect(lambda n: order.append(f"count:{n}"))
    model.set_engine(e)
    qtbot.waitUntil(lambda: len(order) == 2)
    assert order == ["rows:100", "count:150"]
    assert model.total == 150 and model.canFetchMore() and model.counted


# --------------------------------------------------------------------------- start-up


class GatedEngine(FakeEngine):
    """A fake engine whose start waits until the test opens the gate."""

    def __init__(self) -> None:
        base = demo_engine()
        super().__init__(base.me)
        self.__dict__.update(
            {k: v for k, v in base.__dict__.items() if k not in ("listeners", "calls")}
        )
        self.gate = asyncio.Event()
        self.starting = False

    async def start(self) -> None:
        self.starting = True
        await self.gate.wait()
        await super().start()


def controller(tmp_path: Path, engine: FakeEngine, *, tray: bool = False) -> AppController:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return AppController(
        app,
        Options(data_dir=tmp_path),
        engine_factory=lambda profile, key, data_dir: engine,
        tray_available=tray,
        env={},
    )


class FirstPaint(QObject):
    """Calls `seen()` at the watched widget's first paint."""

    def __init__(self, widget: QWidget, seen: Callable[[], None]) -> None:
        super().__init__()
        self.seen: Callable[[], None] | None = seen
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.Paint and self.seen is not None:
            seen, self.seen = self.seen, None
            seen()
        return False


def store_inbox(tmp_path: Path, profile: Profile, rows: list[Any]) -> None:
    """The profile's local store as the engine left it: these leads, newest first."""
    db = Database.open(ProfileStore(tmp_path).engine_dir(profile))
    try:
        db.writer.call(store.apply_changes, [
            change("lead", lead_data(r.lead_id, r.conversation_sid, name=f"{r.name} (stored)",
                                     phone=r.phone, at=-i))
            for i, r in enumerate(rows)], "c1")
    finally:
        db.close()


def test_stored_inbox_paints_rows_before_the_engine_and_a_click_waits_for_it(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any, run: Any
) -> None:
    profile = Profile("staff-1", "Dana Whitfield", "https://relay.example.com", "ret-1")
    ProfileStore(tmp_path).save(profile)
    Secrets().put(profile, "key-1")
    engine = GatedEngine()
    live = list(run(engine.list_leads(LeadFilter(), 0, 100)))
    store_inbox(tmp_path, profile, live)

    ctrl = controller(tmp_path, engine)
    painted: list[int] = []
    w = ctrl.window
    probe = FirstPaint(w.leads_view.viewport(), lambda: painted.append(w.leads_model.rowCount()))
    task = asyncio.ensure_future(ctrl.run())
    # started on a loop that already runs, the first frame is the one main.run shows:
    # painted with the rows from the local store by the time run() returns, before the
    # engine is even asked to start
    assert painted == [len(live)] and w.isVisible() and not engine.starting
    del probe
    assert ctrl.engine is None and w.leads_model.cached
    assert names(w.leads_model) == [f"{r.name} (stored)" for r in live]
    assert w.sidebar.count_label.text() == f"{len(live)} leads"
    # a click on a stored row before the engine is up: the header shows at once...
    target = w.leads_model.row_at(1)
    assert target is not None
    rect = w.leads_view.visualRect(w.leads_model.index(1))
    qtbot.mouseClick(w.leads_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w.pane.title.text() == target.name)
    assert w.current is None  # nothing to load it from yet
    # ...and the conversation opens once the engine is there
    engine.gate.set()
    qtbot.waitUntil(lambda: ctrl.engine is engine and not w.leads_model.cached)
    qtbot.waitUntil(lambda: w.current is not None and w.current.lead_id == target.lead_id)
    qtbot.waitUntil(lambda: w.thread_model.rowCount() > 0)
    # the engine's rows replaced the stored ones
    assert w.leads_model.row_at(0) == live[0]
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_no_store_yet_first_start_fills_from_the_engine(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    profile = Profile("staff-1", "Dana Whitfield", "https://relay.example.com", "ret-1")
    ProfileStore(tmp_path).save(profile)
    Secrets().put(profile, "key-1")
    engine = demo_engine()
    ctrl = controller(tmp_path, engine)
    task = asyncio.ensure_future(ctrl.run())
    w = ctrl.window
    qtbot.waitUntil(lambda: w.leads_model.rowCount() == len(engine.leads))
    assert not w.leads_model.cached and ctrl.engine is engine
    # the location counts follow the first page
    qtbot.waitUntil(lambda: w.sidebar.location.count() > 1)
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def signed_in(tmp_path: Path) -> Profile:
    """A PC where Dana signed in before: her profile, her key in the keyring."""
    profile = Profile("staff-1", "Dana Whitfield", "https://relay.example.com", "ret-1")
    ProfileStore(tmp_path).save(profile)
    Secrets().put(profile, "key-1")
    return profile


def close_early(ctrl: AppController, engine: GatedEngine, when: str, qtbot: Any) -> Any:
    """Start the app and close its window `when`: during the first frame (before the
    app's loop runs `run()`) or while the engine is still starting. The run's task."""
    if when == "first frame":
        ctrl.show_first_frame()
        ctrl.window.close()
        return asyncio.ensure_future(ctrl.run())
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: engine.starting and ctrl.window.isVisible())
    ctrl.window.close()
    return task


@pytest.mark.parametrize("when", ["first frame", "engine starting"])
def test_window_closed_before_the_tray_icon_exists_goes_to_the_tray(
    when: str, tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    """The tray icon is drawn once the first rows are in (or after 3 s): a window closed
    before that hid into a tray that was not there yet."""
    signed_in(tmp_path)
    engine = GatedEngine()
    ctrl = controller(tmp_path, engine, tray=True)
    assert ctrl.tray.icon is None
    task = close_early(ctrl, engine, when, qtbot)
    assert not ctrl.window.isVisible()
    icon = ctrl.tray.icon
    assert icon is not None and icon.isVisible()
    # the app lives on in the tray, as after any later close
    engine.gate.set()
    qtbot.waitUntil(lambda: ctrl.engine is engine)
    assert not task.done() and not ctrl.window.isVisible()
    ctrl.tray.open_action.trigger()
    qtbot.waitUntil(ctrl.window.isVisible)
    ctrl.tray.quit_action.trigger()
    qtbot.waitUntil(task.done, timeout=5000)
    assert task.result() == 0 and engine.stopped


@pytest.mark.parametrize("when", ["first frame", "engine starting"])
def test_window_closed_early_without_a_tray_quits(
    when: str, tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    """No tray to live in: closing the window quits, also before the engine is up (the
    start is not waited for: the gate never opens) and before the app's loop runs."""
    signed_in(tmp_path)
    engine = GatedEngine()
    ctrl = controller(tmp_path, engine)
    task = close_early(ctrl, engine, when, qtbot)
    qtbot.waitUntil(task.done, timeout=3000)
    assert task.result() == 0 and ctrl.engine is None and ctrl.tray.icon is None
    # an engine whose start was under way is stopped like a started one
    assert engine.stopped == engine.starting
    assert ctrl.tasks.running == 0 and ctrl.window.tasks.running == 0


def test_a_second_quit_does_not_cut_the_clean_up_of_the_first(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    """Ctrl+C after closing the window, or Quit clicked twice: the engine a cut start
    had opened is still stopped whole."""

    class SlowToStop(GatedEngine):
        async def stop(self) -> None:
            await asyncio.sleep(0.3)
            await super().stop()

    signed_in(tmp_path)
    engine = SlowToStop()
    ctrl = controller(tmp_path, engine)
    task = close_early(ctrl, engine, "engine starting", qtbot)
    qtbot.wait(50)  # the cut start is stopping the engine now
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=3000)
    assert task.result() == 0
    qtbot.waitUntil(lambda: engine.stopped, timeout=2000)


def test_window_closed_while_the_demo_starts_quits_once_the_demo_can_be_stopped(
    tmp_path: Path, qtbot: Any, loop: Any, monkeypatch: Any
) -> None:
    """`start_demo` blocks on a worker thread and cannot be interrupted: a quit during it
    lets it finish, then stops what it started (a demo left running would keep the
    process alive with no window)."""
    import threading

    release = threading.Event()
    calls: list[str] = []

    def start_demo(folder: Path) -> tuple[str, str, str]:
        calls.append("start")
        release.wait(10)
        calls.append("started")
        return "http://127.0.0.1:9", "key", str(folder)

    def stop_demo() -> None:
        calls.append("stop")

    install_fake_demo(monkeypatch, start_demo, stop_demo)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ctrl = AppController(app, Options(data_dir=tmp_path, demo=True), tray_available=False, env={})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: calls == ["start"] and ctrl.window.isVisible())
    ctrl.window.close()
    qtbot.wait(100)
    ctrl.quit()  # a second quit (Ctrl+C) does not stop the wait for the demo
    qtbot.wait(100)
    assert not task.done()  # the demo is still starting: nothing to stop yet
    release.set()
    qtbot.waitUntil(task.done, timeout=5000)
    assert task.result() == 0 and calls == ["start", "started", "stop"]
    assert ctrl.engine is None


def test_inbox_snapshots_of_an_earlier_build_are_deleted_off_the_qt_thread(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any, monkeypatch: Any
) -> None:
    """Builds before the stored first page kept JSON copies of each profile's inbox
    (names, phones, previews) in <data-dir>/inbox-cache; nothing reads them now."""
    import shutil
    import threading

    profile = signed_in(tmp_path)
    old = tmp_path / "inbox-cache"
    old.mkdir(mode=0o700)
    (old / "5f1c0b8e2a9d4c7e6b3a1f00.json").write_text('{"format": 1, "total": 0, "rows": []}')
    (old / "5f1c0b8e2a9d4c7e6b3a1f00.json.tmp").write_text('{"format": 1')
    (tmp_path / "inbox-cache.json").write_text("not ours to delete")
    threads: list[str] = []
    rmtree = shutil.rmtree

    def watched(path: Any, *args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread().name)
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", watched)
    engine = demo_engine()
    ctrl = controller(tmp_path, engine)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: not old.exists())
    assert threads and threads[0] != threading.main_thread().name
    # the rest of the data folder stays as it was
    assert ProfileStore(tmp_path).last_used() == profile
    assert (tmp_path / "inbox-cache.json").read_text() == "not ours to delete"
    qtbot.waitUntil(lambda: ctrl.engine is engine)
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)
    assert task.result() == 0 and len(threads) == 1  # once


def test_inbox_snapshots_that_cannot_be_deleted_do_not_stop_the_start(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any, monkeypatch: Any,
    caplog: Any,
) -> None:
    import shutil

    signed_in(tmp_path)
    old = tmp_path / "inbox-cache"
    old.mkdir()
    (old / "5f1c0b8e2a9d4c7e6b3a1f00.json").write_text("{}")

    def refused(path: Any, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refused)
    engine = demo_engine()
    ctrl = controller(tmp_path, engine)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: "inbox snapshots" in caplog.text)
    qtbot.waitUntil(lambda: ctrl.engine is engine and ctrl.window.leads_model.rowCount() > 0)
    assert old.exists() and not ctrl.tasks.errors
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)
    assert task.result() == 0


# --------------------------------------------------------------------------- painting


def test_unchanged_rows_repaint_from_cache_and_changed_rows_are_redrawn(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    delegate = window.lead_delegate
    delegate.now = datetime.now(UTC)  # relative times must not tick during the test
    viewport = window.leads_view.viewport()
    first = viewport.grab().toImage()
    drawn = delegate.drawn
    assert drawn >= len(engine.leads)
    viewport.repaint()
    assert delegate.drawn == drawn  # nothing changed: every row came from the cache
    assert viewport.grab().toImage() == first
    # a customer texts in: that row moves to the top with the new preview and is drawn
    # afresh; the picture changes
    lead = next(iter(engine.leads.values()))
    engine.receive(lead.lead_id, "Is the oak plank still on sale?")
    qtbot.waitUntil(
        lambda: (
            window.leads_model.row_at(0) is not None
            and window.leads_model.row_at(0).last_message_preview  # type: ignore[union-attr]
            == "Is the oak plank still on sale?"
        )
    )
    viewport.repaint()
    assert delegate.drawn > drawn
    assert viewport.grab().toImage() != first


def test_one_pass_painting_shows_selection_like_qlistview(window: MainWindow, qtbot: Any) -> None:
    from app.ui import theme

    view = window.leads_view
    rect = view.visualRect(window.leads_model.index(1))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: view.currentIndex().row() == 1)
    image = view.viewport().grab().toImage()
    dpr = image.devicePixelRatio()
    accent = theme.current().color("accent").rgb()
    selection = theme.current().color("selection").rgb()

    def px(x: int, y: int) -> int:
        return image.pixel(int(x * dpr), int(y * dpr))

    # the selected row: accent bar on its left edge and the selection background
    assert px(rect.left() + 1, rect.center().y()) == accent
    assert px(rect.left() + 8, rect.top() + 4) == selection
    # its neighbours are not selected
    other = view.visualRect(window.leads_model.index(2))
    assert px(other.left() + 1, other.center().y()) != accent


def test_stored_inbox_is_not_left_behind_a_sign_in_dialog(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any, run: Any
) -> None:
    profile = Profile("staff-1", "Dana Whitfield", "https://relay.example.com", "ret-1")
    ProfileStore(tmp_path).save(profile)  # but no key in the keyring: sign in again
    store_inbox(tmp_path, profile, list(run(demo_engine().list_leads(LeadFilter(), 0, 100))))
    ctrl = controller(tmp_path, demo_engine())
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible())
    dlg = ctrl.signin
    assert dlg is not None
    assert ctrl.window.leads_model.rowCount() == 0 and not ctrl.window.leads_model.cached
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)
    assert not dlg.isVisible()  # quitting cut the start short: its dialog closed too


def test_phone_display_without_phonenumbers_then_exact(monkeypatch: Any) -> None:
    """Before phonenumbers is loaded (it is, off the Qt thread, after the first rows)
    US numbers show in their usual form; once loaded every number is exact."""
    import sys

    from app.core import phones
    from app.ui import fmt

    assert fmt.phones_loaded()
    exact_us = fmt.format_phone("+13125550142")
    exact_jm = fmt.format_phone("+18765550123")  # +1, but Jamaica: international form
    assert exact_us == "(312) 555-0142" and exact_jm == phones.format_phone("+18765550123")
    monkeypatch.delitem(sys.modules, "app.core.phones")
    assert not fmt.phones_loaded()
    assert fmt.format_phone("+13125550142") == exact_us
    assert fmt.format_phone("+18765550123") == "(876) 555-0123"  # provisional, not cached
    assert "app.core.phones" not in sys.modules  # and nothing imported it meanwhile
    monkeypatch.undo()
    assert fmt.format_phone("+18765550123") == exact_jm
    # while the preload thread is still importing it, it is not loaded yet (a paint must
    # not wait on that import's lock)
    monkeypatch.setattr(phones.__spec__, "_initializing", True, raising=False)
    assert not fmt.phones_loaded()
    assert fmt.format_phone("+13125550142") == exact_us


def test_base_font_size_moves_from_the_style_sheet_to_the_application_font(
    themed_app: Any,
) -> None:
    from app.ui.theme import LIGHT, split_base_font, style_sheet

    qss, size = split_base_font(style_sheet(LIGHT))
    assert size == 10.0 and "QWidget { font-size" not in qss
    assert "#HeaderTitle { font-size: 13pt" in qss  # particular rules stay
    assert themed_app.font().pointSizeF() == size  # what every widget inherits
    assert split_base_font("QLabel { color: red; }") == ("QLabel { color: red; }", None)


THEME_ONCE = r"""
import json, sys
from app.ui import theme

calls = {"palette_for": 0, "style_sheet": 0}

def counted(name, f):
    def wrapper(*args, **kwargs):
        calls[name] += 1
        return f(*args, **kwargs)
    return wrapper

theme.palette_for = counted("palette_for", theme.palette_for)
theme.style_sheet = counted("style_sheet", theme.style_sheet)
from PySide6.QtGui import QPalette
from app.ui.main import build, parse_args

qapp, ctrl = build(parse_args(["--data-dir", sys.argv[1], "--theme", "dark"]))
window = qapp.palette().color(QPalette.ColorRole.Window).name()
print(json.dumps({**calls, "sheet": theme.DARK.surface in qapp.styleSheet(),
                  "window": window, "dark": theme.current().dark}))
"""


def test_start_up_applies_the_theme_and_its_style_sheet_once(tmp_path: Path) -> None:
    """`main.build` sets the palette and font before the window is built and the style
    sheet after it (theme.py): each once, the style sheet read and filled in once."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", THEME_ONCE, str(tmp_path)],
        cwd=root,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["palette_for"] == 1 and seen["style_sheet"] == 1, seen
    from app.ui.theme import DARK

    assert seen["sheet"] and seen["dark"] and seen["window"].lower() == DARK.window.lower()


# --------------------------------------------------------------------------- first frame

FIRST_FRAME = r"""
import json, sys, time
from app.ui.main import build, parse_args, run
from PySide6.QtCore import QEvent, QObject

qapp, ctrl = build(parse_args(["--data-dir", sys.argv[1], "--quit-after", "0.3"]))
w = ctrl.window
seen = {}

class Probe(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and w.leads_model.rowCount() and "rows" not in seen:
            seen["rows"] = [w.leads_model.row_at(i).name for i in range(3)]
            seen["cached"] = w.leads_model.cached
            # what the first frame had loaded when it painted
            import PySide6.QtWidgets as widgets
            seen["loaded"] = sorted(m for m in ("asyncio", "qasync", "app.sync.engine",
                "sqlalchemy", "httpx", "app.ui.composer", "app.ui.leadpanel",
                "app.ui.settings_dialog", "app.ui.signin", "app.core.statuses")
                if m in sys.modules)
            seen["qstyle_type"] = "QStyle" in vars(widgets)
            seen["thread_page"] = w.pane.built
        return False

probe = Probe()
w.leads_view.viewport().installEventFilter(probe)
ctrl.show_first_frame()
seen["painted_before_loop"] = "rows" in seen
started = time.monotonic()
code = run(qapp, ctrl)  # then the app's loop: the engine starts, --quit-after ends it
seen["code"] = code
seen["engine_started"] = ctrl.profile is not None
seen["thread_page_after"] = w.pane.built and w.pane.composer.objectName() == "Composer"
print(json.dumps(seen))
"""


def test_first_frame_paints_stored_rows_before_the_event_loop_and_engine_exist(
    tmp_path: Path, qtbot: Any, loop: Any, run: Any
) -> None:
    """The real start-up path (main.build, then main.run) in a fresh interpreter: the
    window paints with the stored rows before asyncio, qasync, the engine's stack, the composer
    or the lead panel are imported (and without PySide making QStyle's type); the
    loop then starts the engine and the rest of the window is built."""
    import json
    import os
    import subprocess
    import sys

    profile = Profile("staff-1", "Dana Whitfield", "http://127.0.0.1:9", "ret-1")
    ProfileStore(tmp_path).save(profile)
    live = list(run(demo_engine().list_leads(LeadFilter(), 0, 100)))
    store_inbox(tmp_path, profile, live)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tmp_path)],
        cwd=root,
        env={
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "W2T_TOKEN": "staff-key-1",  # the relay is unreachable: the engine goes offline
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["painted_before_loop"] and seen["cached"]
    assert seen["rows"] == [f"{r.name} (stored)" for r in live[:3]]
    assert seen["loaded"] == [] and not seen["qstyle_type"] and not seen["thread_page"]
    assert seen["code"] == 0 and seen["engine_started"] and seen["thread_page_after"]

"""Fixtures for the desktop UI tests: a qasync loop inside pytest-qt, an in-memory
keyring, the theme, and a main window over the fake engine."""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import keyring
import keyring.backend
import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.ui.bridge import EngineBridge
from app.ui.controller import AppController
from app.ui.mainwindow import MainWindow
from app.ui.theme import ThemeManager
from tests.ui.fake_engine import FakeEngine, demo_engine

T = TypeVar("T")


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def themed_app(qapp: QApplication) -> QApplication:
    qapp.setApplicationName("Web2Text")
    ThemeManager(qapp, force="light")
    return qapp


@pytest.fixture(autouse=True)
def pointer_away(qapp: QApplication) -> None:
    """Each test starts with the mouse pointer off every window: a window shown under
    the pointer a previous test left gets an Enter event, and the inbox holds its order
    still under the pointer (held_order)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QCursor

    QCursor.setPos(QPoint(-10_000, -10_000))


AppRun = tuple[AppController, Coroutine[Any, Any, int]]


def _track_app_runs(monkeypatch: pytest.MonkeyPatch) -> list[AppRun]:
    """Every AppController.run() of a test, so that its teardown can end the apps
    a failed assertion left running (their windows, engines and tasks would reach
    into the next tests)."""
    runs: list[AppRun] = []
    original = AppController.run

    def run(self: AppController) -> Coroutine[Any, Any, int]:
        coro = original(self)
        runs.append((self, coro))
        return coro

    monkeypatch.setattr(AppController, "run", run)
    return runs


def _quit_apps_left_running(runs: list[AppRun], qtbot: Any) -> None:
    for ctrl, coro in runs:
        state = inspect.getcoroutinestate(coro)
        if state == inspect.CORO_CREATED:
            coro.close()
        elif state != inspect.CORO_CLOSED:
            ctrl.quit()
            qtbot.waitUntil(
                lambda c=coro: inspect.getcoroutinestate(c) == inspect.CORO_CLOSED,
                timeout=30000)


@pytest.fixture
def loop(
    themed_app: QApplication, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop that runs whenever Qt processes events (qtbot.wait*, keyClicks...)."""
    lp = qasync.QEventLoop(themed_app, already_running=True)
    # a plain pool we can shut down: the engine's SQLite work runs here (asyncio.to_thread)
    executor = ThreadPoolExecutor(4, thread_name_prefix="ui-test")
    lp.set_default_executor(executor)
    asyncio.set_event_loop(lp)
    runs = _track_app_runs(monkeypatch)
    yield lp
    _quit_apps_left_running(runs, qtbot)
    pending = [t for t in asyncio.all_tasks(lp) if not t.done()]
    for t in pending:
        t.cancel()
    # finalise async generators (e.g. an SSE stream) on this loop, as loop.close() would
    closing = asyncio.ensure_future(lp.shutdown_asyncgens())
    qtbot.waitUntil(closing.done, timeout=5000)
    executor.shutdown(wait=True, cancel_futures=True)
    # The test's Qt objects in reference cycles are freed here, on the Qt thread; left
    # to the collector, they would be freed by whichever thread allocates next (an
    # engine or relay thread of a later test) while Qt may still deliver their events.
    gc.collect()
    asyncio.set_event_loop(None)
    # qasync marks an already_running loop as the thread's running loop until the app
    # quits: left so, a later test's asyncio.run() in this process fails
    asyncio.events._set_running_loop(None)


@pytest.fixture
def run(qtbot: Any, loop: asyncio.AbstractEventLoop):  # type: ignore[no-untyped-def]
    """run(coro) -> result, pumping Qt (and so asyncio) until it is done."""

    def _run(coro: Coroutine[Any, Any, T], timeout: int = 5000) -> T:
        task = asyncio.ensure_future(coro)
        qtbot.waitUntil(task.done, timeout=timeout)
        return task.result()

    return _run


def activate(w: Any, qtbot: Any) -> None:
    """Make `w` the active window (shortcuts and focus need it, even offscreen)."""
    with qtbot.waitActive(w):
        w.activateWindow()


def open_lead(window: MainWindow, qtbot: Any, name: str) -> None:
    """Click the inbox row with this customer's name, like a person would."""
    model = window.leads_model
    row = next(i for i in range(model.rowCount()) if model.row_at(i).name == name)  # type: ignore[union-attr]
    rect = window.leads_view.visualRect(model.index(row))
    from PySide6.QtCore import Qt

    qtbot.mouseClick(window.leads_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == name)
    qtbot.waitUntil(
        lambda: (
            window.thread_model.conversation_sid == window.current.conversation_sid
            and window.thread_model.rowCount() > 0
        )
    )


@pytest.fixture
def engine() -> FakeEngine:
    return demo_engine()


@pytest.fixture
def window(qtbot: Any, run: Any, engine: FakeEngine) -> MainWindow:  # type: ignore[no-untyped-def]
    bridge = EngineBridge()
    engine.add_listener(bridge)
    run(engine.start())
    w = MainWindow(tray_available=False)
    w.bridge_ref = bridge  # type: ignore[attr-defined]
    qtbot.addWidget(w)
    w.set_engine(engine, bridge)
    w.show()
    qtbot.waitUntil(lambda: w.leads_model.rowCount() == len(engine.leads))
    return w

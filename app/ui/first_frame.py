"""The window's first frame: shown with the inbox's stored rows and painted before the
asyncio loop, the engine and the rest of the window exist (docs/desktop.md, "Start-up
order"), and what follows once the first rows are in."""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.startup import StoredFirstPage, remove_old_snapshots
from app.ui.tasks import Tasks
from app.ui.tray import TrayController

#: how long the window waits for the stored first page of the inbox before it shows
#: without rows (the engine fills them in a moment later)
FIRST_PAGE_WAIT_S = 0.5
#: how long the first frame waits for the window's paint before the app goes on (the
#: asyncio loop, the engine's imports and start) without it
FIRST_PAINT_WAIT_S = 0.5


class FirstFrame:
    """Shows the window once, with the stored rows, and waits for its first paint.

    The wait is a local Qt event loop that takes no input: so not from inside an
    asyncio task (that loop would run other tasks' steps inside it).
    """

    def __init__(self, app: QApplication, window: QWidget) -> None:
        self._app = app
        self._shown = False
        self._painted = False
        self._wait: QEventLoop | None = None  # while show() waits for the paint
        self._probe = _FirstPaint(self._on_paint)
        window.installEventFilter(self._probe)

    def show(
        self,
        stored: Callable[[], StoredFirstPage],
        show_rows: Callable[[list[Any], int], None],
        show_window: Callable[[], None],
    ) -> None:
        """Once (later calls do nothing): blocks for at most FIRST_PAGE_WAIT_S for the
        rows and FIRST_PAINT_WAIT_S for the paint."""
        if self._shown:
            return
        self._shown = True
        # before the window maps, so that its first frame has the rows (bounded: a busy
        # disk cannot hold the window back)
        page = stored().result(FIRST_PAGE_WAIT_S)
        if page is not None:
            show_rows(*page)
        show_window()
        if not self._painted:
            # the engine's imports and queries would only share the interpreter with the
            # paint and delay it; nothing here needs asyncio
            wait = self._wait = QEventLoop()
            QTimer.singleShot(int(FIRST_PAINT_WAIT_S * 1000), wait, wait.quit)
            wait.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            self._wait = None
        # what the paint left queued (its own follow-ups) finishes with the frame
        self._app.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def _on_paint(self) -> None:
        self._painted = True
        wait = self._wait
        if wait is not None:  # once the paint is through, not in the middle of it
            QTimer.singleShot(0, wait, wait.quit)


class _FirstPaint(QObject):
    """Calls `on_paint` when the watched window first paints."""

    def __init__(self, on_paint: Callable[[], None]) -> None:
        super().__init__()
        self._on_paint: Callable[[], None] | None = on_paint

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.Paint and self._on_paint is not None:
            on_paint, self._on_paint = self._on_paint, None
            obj.removeEventFilter(self)
            on_paint()
        return False


class AfterFirstRows(QObject):
    """What the first frame does without, done once its first rows are in (`run`), or
    after WAIT_MS without any (no profile yet, a sign-in): the window and tray icons
    (SVG renders), the rest of the window, modules soon needed, old files removed."""

    WAIT_MS = 3000

    def __init__(
        self,
        app: QApplication,
        window: QWidget,
        tray: TrayController,
        *,
        finish_window: Callable[[], None],
        data_dir: Path,
        tasks: Tasks,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._app, self._window, self._tray = app, window, tray
        self._finish_window = finish_window
        self._data_dir = data_dir
        self._tasks = tasks
        self.done = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.WAIT_MS)
        self._timer.timeout.connect(self.run)

    def start_waiting(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        """The app quits: none of it is worth doing any more. (No Qt call: a quit may
        come from the window's destruction.)"""
        self.done = True

    def run(self) -> None:
        import asyncio

        if self.done:
            return
        self.done = True
        self._timer.stop()
        from app.ui.resources import app_icon

        icon = app_icon()
        self._app.setWindowIcon(icon)
        self._window.setWindowIcon(icon)
        self._tray.show_icon()
        # shortcuts and the panes not in the first frame, whether or not an engine
        # starts (sign-in first, a failed start): the keyboard works from here on
        self._finish_window()
        # modules the first paint did not need but a row, the composer or the quiet-hours
        # check soon will (phonenumbers above all): imported now, off this thread, rather
        # than in the middle of painting a row
        self._tasks.spawn(asyncio.to_thread(preload, "app.ui.quiet", "app.core.phones"))
        # an earlier build's copies of the inbox, left in the data folder
        self._tasks.spawn(asyncio.to_thread(remove_old_snapshots, self._data_dir))


def freeze_startup_objects() -> None:
    """Exempt what start-up built (Qt bindings, SQLAlchemy, the engine, the window: a
    few hundred thousand objects) from the cyclic garbage collector.

    A full collection walks every tracked object and stops every Python thread while it
    runs: with those objects it was long enough to be seen, triggered by whichever
    thread allocates (the engine's, while a burst of changes streams in), and froze the
    window for that long. Frozen objects are never collected again: they live as long
    as the app anyway. A young-generation pass first, so that fresh garbage is not
    frozen with them.
    """
    gc.collect(1)
    gc.freeze()


def preload(*modules: str) -> None:
    """Import `modules` (blocking: run it on a worker thread); missing ones are skipped."""
    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)

"""At home on any screen: the panes follow the window's width (lead panel drawer,
one column with a back button), the first window fits the screen's room at 100, 125
and 150 %, text stays whole and grows with the scale, and the window opens on the
screen it was on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt

from app.ui import placement
from app.ui.mainwindow import MainWindow
from app.ui.responsive import DRAWER_BELOW, ONE_COLUMN_BELOW, Mode
from tests.ui.conftest import activate
from tests.ui.keys import focused, press

ROOT = Path(__file__).resolve().parents[2]
CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def screens_file(tmp_path: Path, *screens: tuple[str, int, int, int]) -> str:
    """An offscreen platform with these screens (name, x, width, height), side by side.
    (The offscreen platform lists its screens by name: the first name is the primary.)"""
    spec = {
        "screens": [
            {"name": n, "x": x, "y": 0, "width": w, "height": h, "logicalDpi": 96, "dpr": 1}
            for n, x, w, h in screens
        ]
    }
    path = tmp_path / "screens.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return f"offscreen:configfile={path}"


def run_python(args: list[str], platform: str, scale: float = 1.0) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": platform, "QT_SCALE_FACTOR": str(scale)}
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_panes_follow_the_window_width(window: MainWindow, qtbot: Any) -> None:
    activate(window, qtbot)
    press(Qt.Key.Key_Down)
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None)
    panel = window.panel
    # wide: three columns, Details (Ctrl+I) hides and shows the panel column
    window.resize(DRAWER_BELOW + 86, 800)
    assert window.panes.mode is Mode.WIDE
    qtbot.waitUntil(panel.isVisible)
    assert panel.parentWidget() is window.splitter and window.pane.panel_button.isChecked()
    press(Qt.Key.Key_I, CTRL)
    assert not panel.isVisible() and not window.pane.panel_button.isChecked()
    press(Qt.Key.Key_I, CTRL)
    assert panel.isVisible()
    # narrower: the panel is a drawer over the conversation's right side, closed
    window.resize(DRAWER_BELOW - 180, 800)
    assert window.panes.mode is Mode.DRAWER
    assert not panel.isVisible() and panel.parentWidget() is not window.splitter
    assert window.sidebar.isVisible() and window.pane.isVisible()
    press(Qt.Key.Key_I, CTRL)
    qtbot.waitUntil(panel.isVisible)
    central = window.centralWidget()
    assert central.rect().contains(panel.geometry())
    assert panel.geometry().right() == window.splitter.geometry().right()
    press(Qt.Key.Key_Escape)
    assert not panel.isVisible()
    # one column: the conversation the keyboard is in stays, with a back button
    assert focused() is window.pane.composer.edit
    window.resize(ONE_COLUMN_BELOW - 200, 700)
    assert window.panes.mode is Mode.ONE_COLUMN
    assert not window.sidebar.isVisible() and window.pane.isVisible()
    assert window.pane.back_button.isVisible() and focused() is window.pane.composer.edit
    press(Qt.Key.Key_Escape)  # the inbox, the keyboard in its list
    assert window.sidebar.isVisible() and not window.pane.isVisible()
    assert focused() is window.leads_view
    press(Qt.Key.Key_Down)  # arrows choose a row, the inbox stays on screen
    assert window.sidebar.isVisible() and focused() is window.leads_view
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(window.pane.isVisible)
    assert not window.sidebar.isVisible() and window.pane.back_button.isVisible()
    assert focused() is window.pane.composer.edit
    press(Qt.Key.Key_Escape)  # back to the inbox, the keyboard in its list
    assert window.sidebar.isVisible() and not window.pane.isVisible()
    assert focused() is window.leads_view
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(window.pane.isVisible)
    press(Qt.Key.Key_Left, ALT)  # Alt+Left too
    assert window.sidebar.isVisible() and focused() is window.leads_view
    # and wide again: everything shows
    window.resize(1400, 800)
    assert window.sidebar.isVisible() and window.pane.isVisible() and panel.isVisible()
    assert not window.pane.back_button.isVisible()


@pytest.mark.parametrize(
    ("width", "height", "scale", "mode"),
    [
        (1024, 768, 1.0, "drawer"),
        (1366, 768, 1.25, "drawer"),
        (1024, 768, 1.5, "one_column"),
        (1920, 1080, 1.0, "wide"),
    ],
)
def test_first_window_fits_the_screen_and_its_text_stays_legible(
    tmp_path: Path, width: int, height: int, scale: float, mode: str
) -> None:
    """A first start (no saved place) on a showroom screen, a laptop at 125 % and a
    1024×768 screen at 150 %: the window and its status bar are within the screen's
    room, the layout suits the width, no label or button is cut, and the smallest
    text grows with the scale."""
    platform = screens_file(tmp_path, ("Only", 0, width, height))
    seen = run_python(["-m", "tests.ui.screen_probe"], platform, scale)
    assert seen["scale"] == scale
    assert seen["fits"] and seen["status_bar_on_screen"], seen
    assert seen["mode"] == mode, seen
    assert seen["thread_visible"] and seen["composer_visible"]
    assert seen["back_visible"] == (mode == "one_column")
    assert seen["inbox_visible"] == (mode != "one_column")
    assert seen["clipped"] == [], seen
    assert seen["smallest_font_px"] >= 10.5 * scale, seen
    small = width < placement.PREFERRED_WIDTH + placement.MARGIN
    assert seen["maximized"] == small


PLACED = r"""
import json, sys
from app.ui.main import build, parse_args
qapp, ctrl = build(parse_args(["--data-dir", sys.argv[1]]))
ctrl.show_first_frame()
w = ctrl.window
g = w.normalGeometry() if w.isMaximized() else w.geometry()
print(json.dumps({"screen": w.screen().name(), "geometry": [g.x(), g.y(), g.width(), g.height()],
                  "maximized": w.isMaximized()}))
"""


def test_the_window_opens_on_the_screen_it_was_on(tmp_path: Path) -> None:
    platform = screens_file(
        tmp_path, ("Kiosk", 0, 1024, 768), ("Office", 1024, 1920, 1080)
    )
    data = tmp_path / "data"
    # first start: the primary screen (small: maximized)
    seen = run_python(["-c", PLACED, str(data)], platform)
    assert seen["screen"] == "Kiosk" and seen["maximized"]
    # closed on the other screen last time: it opens there, where it was
    placement.save(
        data / placement.FILE_NAME,
        placement.Placement("Office", QRect(1200, 90, 1300, 850), False),
    )
    seen = run_python(["-c", PLACED, str(data)], platform)
    assert seen == {"screen": "Office", "geometry": [1200, 90, 1300, 850], "maximized": False}
    # a place that no longer fits is fitted into that screen's room
    placement.save(
        data / placement.FILE_NAME,
        placement.Placement("Office", QRect(2500, 600, 1600, 900), True),
    )
    seen = run_python(["-c", PLACED, str(data)], platform)
    assert seen["screen"] == "Office" and seen["maximized"]
    x, y, w, h = seen["geometry"]
    assert QRect(1024, 0, 1920, 1080).contains(QRect(x, y, w, h))
    # that screen is gone: the primary one, sized from its room
    seen = run_python(
        ["-c", PLACED, str(data)], screens_file(tmp_path, ("Kiosk", 0, 1024, 768))
    )
    assert seen["screen"] == "Kiosk" and seen["maximized"]


def test_quitting_remembers_the_screen_and_place(
    tmp_path: Path, qtbot: Any, loop: Any, memory_keyring: Any
) -> None:
    import asyncio

    from tests.ui.test_app import make_controller, provision

    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    ctrl = make_controller(tmp_path, {})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.window.isVisible())
    ctrl.window.showNormal()
    ctrl.window.setGeometry(40, 30, 1000, 700)
    qtbot.waitUntil(lambda: ctrl.window.geometry() == QRect(40, 30, 1000, 700))
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=10000)
    saved = placement.load(tmp_path / placement.FILE_NAME)
    assert saved is not None
    assert saved.screen == ctrl.window.screen().name()
    assert saved.geometry == QRect(40, 30, 1000, 700) and not saved.maximized

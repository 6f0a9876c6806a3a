"""Where the main window opens: on the screen and at the place it had when it was
last closed (`window.json` in the data folder), else sized from the primary screen's
available room.

A screen with less room than PREFERRED (a 1024×768 showroom PC, or a laptop at 150 %)
gets the window maximized: a fixed size would put the status bar under the taskbar.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

FILE_NAME = "window.json"
#: the first size on a roomy screen (logical pixels)
PREFERRED_WIDTH, PREFERRED_HEIGHT = 1440, 900
#: room left around the window (its frame, the desktop's panels)
MARGIN = 48


class Placement(NamedTuple):
    screen: str  # QScreen.name()
    geometry: QRect  # the window's normal (not maximized) geometry
    maximized: bool


def first_placement(screen: QScreen) -> Placement:
    """The first window on `screen`: PREFERRED, centred, or maximized on a small screen."""
    room = screen.availableGeometry()
    small = (
        room.width() < PREFERRED_WIDTH + MARGIN or room.height() < PREFERRED_HEIGHT + MARGIN
    )
    width = min(PREFERRED_WIDTH, room.width() - MARGIN)
    height = min(PREFERRED_HEIGHT, room.height() - MARGIN)
    rect = QRect(0, 0, max(width, 1), max(height, 1))
    rect.moveCenter(room.center())
    return Placement(screen.name(), rect, small)


def fit(rect: QRect, room: QRect) -> QRect:
    """`rect` made to fit inside `room` (smaller, then moved in)."""
    out = QRect(rect)
    out.setWidth(min(out.width(), room.width()))
    out.setHeight(min(out.height(), room.height()))
    out.moveLeft(max(room.left(), min(out.left(), room.right() - out.width() + 1)))
    out.moveTop(max(room.top(), min(out.top(), room.bottom() - out.height() + 1)))
    return out


def load(path: Path) -> Placement | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        x, y, w, h = (int(v) for v in raw["geometry"])
        return Placement(str(raw["screen"]), QRect(x, y, w, h), bool(raw.get("maximized")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restore(saved: Placement | None) -> Placement:
    """The saved placement on its screen if that screen is still there (fitted into its
    room), else the first placement on the primary screen."""
    screens = {s.name(): s for s in QGuiApplication.screens()}
    screen = screens.get(saved.screen) if saved is not None else None
    if saved is None or screen is None:
        return first_placement(QGuiApplication.primaryScreen())
    return Placement(saved.screen, fit(saved.geometry, screen.availableGeometry()), saved.maximized)


def apply(window: QWidget, placement: Placement) -> None:
    """Put `window` (not shown yet) where `placement` says; `show_placed` shows it."""
    window.setGeometry(placement.geometry)


def show_placed(window: QWidget, placement: Placement, *, full_screen: bool) -> None:
    if full_screen:
        window.showFullScreen()
    elif placement.maximized:
        window.showMaximized()
    else:
        window.show()


def remember(window: QWidget) -> Placement:
    """Where `window` is now."""
    full = window.isMaximized() or window.isFullScreen()
    normal = window.normalGeometry() if full else window.geometry()
    if not normal.isValid():
        normal = window.geometry()
    return Placement(window.screen().name(), QRect(normal), window.isMaximized())


def save(path: Path, placement: Placement) -> None:
    g = placement.geometry
    data = {
        "screen": placement.screen,
        "geometry": [g.x(), g.y(), g.width(), g.height()],
        "maximized": placement.maximized,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # the window opens at its first place next time
        log.warning("window placement not saved: %s", exc)

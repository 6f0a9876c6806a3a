"""The main window on whatever screen the process has, placed as the app places it,
with the sample inbox and a conversation open; prints what a person would notice
(JSON) and can save a picture of it.

    QT_SCALE_FACTOR=1.5 python -m tests.ui.screen_probe [--shot PATH] [--lead NAME]
        [--screen-shot PATH]   (the whole screen, with sample automatic and emoji texts)

Run in a process of its own: the screen's size and the scale factor are fixed when
the QApplication starts (tests/ui/test_screens.py, scripts/screenshots).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from typing import Any

import qasync
from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget

from app.ui import placement
from app.ui.bridge import EngineBridge
from app.ui.mainwindow import MainWindow
from app.ui.responsive import Mode
from app.ui.settings import DEFAULT_TEMPLATES
from app.ui.theme import ThemeManager
from tests.ui.fake_engine import FakeEngine, demo_engine


def clipped_texts(window: QWidget) -> list[str]:
    """Visible one-line labels and buttons whose text does not fit their width."""
    out = []
    for w in window.findChildren(QWidget):
        if not w.isVisible() or not w.isVisibleTo(window):
            continue
        if isinstance(w, QLabel) and not w.wordWrap() and w.pixmap().isNull():
            text = w.text()
            room = w.contentsRect().width()
        elif isinstance(w, QAbstractButton):
            text = w.text()
            room = w.width()
            if w.sizeHint().width() > room:
                out.append(text)
            continue
        else:
            continue
        if text and "<" not in text and w.fontMetrics().horizontalAdvance(text) > room + 1:
            out.append(text)
    return out


def smallest_font_px(window: QWidget) -> float:
    """The smallest text on screen, in device pixels."""
    dpr = window.devicePixelRatioF()
    sizes = [
        w.fontInfo().pixelSize() * dpr
        for w in window.findChildren(QWidget)
        if w.isVisible() and isinstance(w, (QLabel, QAbstractButton)) and w.text()
    ]
    return min(sizes) if sizes else 0.0


def _inside(inner: QRect, outer: QRect) -> bool:
    # (1 px of slack: at 125 % a 1366 px screen is 1092.8 logical px, rounded either way)
    room = outer.adjusted(-1, -1, 1, 1)
    return room.contains(inner.topLeft()) and room.contains(inner.bottomRight())


def add_samples(engine: FakeEngine, lead: str) -> None:
    """What the pictures should show besides the demo inbox: the relay's automatic
    greeting and details in the open thread, and a customer with an Arabic name who
    texts emoji."""
    detail = next(d for d in engine.leads.values() if d.name == lead)
    first = min(m.created_at for m in engine.messages[detail.conversation_sid or ""])
    engine.add_message(
        detail.lead_id, "system", "+18475550186",
        "Hi James, thanks for contacting Naperville Showroom! Reply here to text with us.",
        first + timedelta(seconds=20),
    )
    engine.add_lead(
        "نور حداد", "+17085550133", minutes_ago=1,
        message="Do you have this rug in blue? 😍👍🏽",
    )


async def probe(
    app: QApplication, shot: str | None, lead: str, theme: str, *, screen_shot: str | None = None
) -> dict[str, Any]:
    ThemeManager(app, force=theme)
    engine = demo_engine()
    if screen_shot:
        add_samples(engine, lead)
    bridge = EngineBridge()
    engine.add_listener(bridge)
    await engine.start()
    window = MainWindow(tray_available=False)
    window.set_templates(list(DEFAULT_TEMPLATES))
    window.set_engine(engine, bridge)
    where = placement.restore(None)  # a first start: from the primary screen's room
    placement.apply(window, where)
    placement.show_placed(window, where, full_screen=False)
    while window.leads_model.rowCount() < len(engine.leads):
        await asyncio.sleep(0.02)
    detail = next(d for d in engine.leads.values() if d.name == lead)
    window.open_lead(detail.lead_id, focus=True)
    while window.current is None or window.thread_model.rowCount() == 0:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # layouts settle (a resize after maximizing)
    screen = window.screen()
    room = screen.availableGeometry()
    status = window.status_bar
    status_rect = QRect(status.mapToGlobal(status.rect().topLeft()), status.size())
    result = {
        "screen": [screen.size().width(), screen.size().height()],
        "room": [room.width(), room.height()],
        "scale": screen.devicePixelRatio(),
        "window": [window.width(), window.height()],
        "maximized": window.isMaximized(),
        "fits": _inside(window.frameGeometry(), room),
        "status_bar_on_screen": _inside(status_rect, room) and status.isVisible(),
        "mode": window.panes.mode.value,
        "inbox_visible": window.sidebar.isVisible(),
        "thread_visible": window.pane.isVisible() and window.pane.view.isVisible(),
        "composer_visible": window.pane.composer.isVisible(),
        "back_visible": window.pane.back_button.isVisible(),
        "clipped": clipped_texts(window),
        "smallest_font_px": smallest_font_px(window),
    }
    if shot or screen_shot:
        if window.panes.mode is not Mode.ONE_COLUMN:
            window.leads_view.setFocus()
        await asyncio.sleep(0.3)
    if shot:
        window.grab().save(shot)
    if screen_shot:  # the whole screen, as the display server has it (Xvfb)
        screen.grabWindow(0).save(screen_shot)
    window.quitting = True
    window.close()
    await engine.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--shot", default=None)
    args.add_argument("--screen-shot", default=None)
    args.add_argument("--lead", default="James Whitaker")
    args.add_argument("--theme", default="light")
    opts = args.parse_args(argv)
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        QGuiApplication.highDpiScaleFactorRoundingPolicy().PassThrough
    )
    app = QApplication([sys.argv[0], "-style", "Fusion"])
    app.setApplicationName("Web2Text")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(
            probe(app, opts.shot, opts.lead, opts.theme, screen_shot=opts.screen_shot)
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A thumbnail arriving repaints only the rows that show its photo, not the whole
thread (a burst of photos would otherwise repaint every bubble once per photo)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QColor, QImage, QPaintEvent

from app.sync.api import MediaItem
from app.ui.mainwindow import MainWindow
from app.ui.thread_model import MessageItem
from tests.ui.conftest import open_lead
from tests.ui.fake_engine import FakeEngine


class PaintRegions(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(event, QPaintEvent):
            self.rects.append(event.region().boundingRect())
        return False


def test_a_thumbnail_repaints_only_its_own_bubble(  # type: ignore[no-untyped-def]
    window: MainWindow, engine: FakeEngine, qtbot, tmp_path: Path
) -> None:
    photo = tmp_path / "bumper.png"
    image = QImage(800, 600, QImage.Format.Format_RGB32)
    image.fill(QColor(30, 120, 200))
    assert image.save(str(photo))
    lead = next(d for d in engine.leads.values() if d.name == "James Whitaker")
    item = MediaItem(None, "image/png", "bumper.png", photo.stat().st_size, str(photo))
    engine.add_message(lead.lead_id, "customer", "James", "the dent", datetime.now(UTC),
                       "received", media=(item,))
    model, view = window.thread_model, window.pane.view
    regions = PaintRegions()
    view.viewport().installEventFilter(regions)
    after_ready: list[int] = []  # paints seen when the thumbnail arrived
    model.thumbnails.ready.connect(lambda _key: after_ready.append(len(regions.rects)))
    open_lead(window, qtbot, "James Whitaker")
    qtbot.waitUntil(lambda: bool(after_ready) and len(regions.rects) > after_ready[0],
                    timeout=10_000)
    [row] = [i for i in range(model.rowCount())
             if isinstance(it := model.item_at(i), MessageItem) and it.message.media]
    painted = regions.rects[after_ready[0]]
    assert painted == view.visualRect(model.index(row)).intersected(view.viewport().rect())
    assert painted != view.viewport().rect()

"""Painting a message's photos in its bubble: the thumbnail when it is here, a
placeholder box while it loads (the thumbnail store is asked, never waited for)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFont, QPainter, QPainterPath

from app.sync.api import ThreadMessage
from app.ui import theme
from app.ui.thumbnails import ThumbnailStore


def paint_photos(
    p: QPainter,
    boxes: Sequence[QRect],
    m: ThreadMessage,
    thumbnails: ThumbnailStore | None,
    font: QFont,
    t: theme.Theme,
) -> None:
    for box, item in zip(boxes, m.media, strict=False):
        image = thumbnails.image(item) if thumbnails is not None else None
        p.save()
        clip = QPainterPath()
        clip.addRoundedRect(box, 8, 8)
        p.setClipPath(clip)
        p.fillRect(box, t.color("surface_alt"))
        if image is not None and not image.isNull():
            scaled = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            p.drawImage(target, image)
        else:
            failed = thumbnails is not None and thumbnails.has_failed(item)
            p.setPen(t.color("text_muted"))
            p.setFont(font)
            label = "Photo not available offline" if failed else "Loading photo…"
            p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), label)
        p.restore()

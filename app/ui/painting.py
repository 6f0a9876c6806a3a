"""Small painting helpers shared by the custom delegates: font variants and pills."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter


def font_variant(base: QFont, *, size_delta: float = 0, bold: bool = False) -> QFont:
    """A copy of `base`, `size_delta` points larger (never under 6 pt), bold or not."""
    f = QFont(base)
    if size_delta:
        f.setPointSizeF(max(6.0, f.pointSizeF() + size_delta))
    f.setBold(bold)
    return f


def draw_pill(p: QPainter, rect: QRect, bg: QColor, fg: QColor, text: str, font: QFont) -> None:
    p.save()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(bg)
    p.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    p.setPen(fg)
    p.setFont(font)
    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()


def pill_width(fm: QFontMetrics, text: str, pad: int = 8) -> int:
    return fm.horizontalAdvance(text) + 2 * pad

"""Where the desktop's icons and style sheets live, and how they become Qt objects.

The files sit in the repository's top-level `resources/` folder (source checkouts
and editable installs); installers copy that folder next to the `app` package,
and PyInstaller bundles put it under `sys._MEIPASS`.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon


@cache
def resources_dir() -> Path:
    candidates = [Path(__file__).resolve().parents[2] / "resources"]
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        candidates.insert(0, Path(meipass) / "resources")
    for candidate in candidates:
        if (candidate / "app-icon.svg").exists():
            return candidate
    return candidates[-1]


def resource_text(name: str) -> str:
    path = resources_dir() / name
    return path.read_text(encoding="utf-8") if path.exists() else ""


def render_svg(name: str, size: int) -> QPixmap:
    """The SVG drawn at `size` device-independent pixels (crisp on high-DPI screens)."""
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(resource_text(name).encode("utf-8")))
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, size * 2, size * 2))
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return pixmap


@cache
def app_icon() -> QIcon:
    from PySide6.QtGui import QIcon  # icons come after the first frame

    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon.addPixmap(render_svg("app-icon.svg", size))
    return icon


def tray_icon(unread: int, size: int = 32) -> QIcon:
    """The tray icon with the unread count drawn on it (capped at 99+)."""
    from PySide6.QtGui import QColor, QFont, QIcon

    base = render_svg("tray-icon.svg", size)
    if unread <= 0:
        return QIcon(base)
    painter = QPainter(base)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    text = "99+" if unread > 99 else str(unread)
    badge = size * 0.62 if len(text) == 1 else size * 0.78
    rect = QRectF(size - badge, 0, badge, size * 0.62)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#E5484D"))
    painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(7, int(size * (0.42 if len(text) == 1 else 0.32))))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(base)

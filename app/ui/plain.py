"""Showing text other people wrote (customers' names and texts, staff notes, the
relay's messages) without letting Qt read it as markup.

A QLabel's default format, and every tooltip, is "rich text when it looks like
it": a customer named `<img src='file:///…'>` would make the desktop load a
local file (on Windows `file://host/share` reaches out over SMB). So:

- `plain(label)` / `plain_label(text)`: a label that always shows its text as
  typed (`Qt.TextFormat.PlainText`);
- `tooltip(text)`: tooltip text escaped inside rich text of our own, so it reads
  as typed;
- `notification_text(text)`: for tray notifications, whose body some desktops
  render as markup: angle brackets become look-alikes.

`tests/ui/test_plain_text.py` walks the populated main window and fails on any
label or tooltip that shows such text as rich text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


def plain(label: QLabel) -> QLabel:
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    return plain(QLabel(text, parent))


def tooltip(text: str) -> str:
    import html  # only when a tooltip is asked for

    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


def notification_text(text: str) -> str:
    return text.replace("<", "\u2039").replace(">", "\u203a")

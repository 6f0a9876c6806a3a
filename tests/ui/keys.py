"""The keyboard as a person uses it: every key goes to the widget that has the focus
(`QApplication.focusWidget()`), so the window's shortcuts and its focus handling are
what the tests exercise."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget


def focused() -> QWidget:
    """Where a key goes: an open popup (a menu, Ctrl+K) takes the keyboard, as the
    window system gives it to a popup; else the focus widget."""
    popup = QApplication.activePopupWidget()
    if popup is not None:
        return popup.focusWidget() or popup
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard"
    return widget


def press(key: Qt.Key, modifiers: Qt.KeyboardModifier | None = None) -> None:
    """One key (with modifiers) to whatever has the focus now."""
    QTest.keyClick(focused(), key, modifiers or Qt.KeyboardModifier.NoModifier)


def type_text(text: str) -> None:
    """Typed one character at a time, each to whatever has the focus at that moment."""
    for ch in text:
        QTest.keyClicks(focused(), ch)

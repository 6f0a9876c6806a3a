"""What every dialog of the app does with the keyboard.

Esc closes it (QDialog's own), focus goes back to where it was before it opened,
Enter presses only the one button meant for it (no button becomes the default by
being first or focused), and the main window's shortcuts, which a modal dialog holds
back, say so instead of doing nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QPushButton, QWidget

#: the main window's shortcuts (MainWindow._shortcuts) and what they do there
WINDOW_SHORTCUTS = {
    "Ctrl+K": "jump to a lead",
    "Ctrl+N": "new conversation",
    "Ctrl+F": "search",
    "Ctrl+,": "settings",
    "Alt+Up": "previous conversation",
    "Alt+Down": "next conversation",
}


def keyboard_ready(dialog: QDialog, name: str, *, default: QPushButton | None) -> QLabel:
    """Set `dialog` up for the keyboard (call it once its widgets are built, right
    before it is opened); returns the label that explains a held-back shortcut."""
    for button in dialog.findChildren(QPushButton):
        button.setAutoDefault(False)
        button.setDefault(False)
    if default is not None:
        default.setDefault(True)
    hint = QLabel()
    hint.setObjectName("ShortcutHint")
    hint.setAccessibleName("Shortcut hint")
    hint.setWordWrap(True)
    hint.hide()
    layout = dialog.layout()
    if layout is not None:
        layout.addWidget(hint)
    for sequence, what in WINDOW_SHORTCUTS.items():
        shortcut = QShortcut(QKeySequence(sequence), dialog)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(
            lambda s=sequence, w=what: _explain(hint, s, w, name)
        )
    _return_focus_when_closed(dialog, QApplication.focusWidget())
    return hint


def _explain(hint: QLabel, sequence: str, what: str, name: str) -> None:
    hint.setText(f"{sequence} ({what}) works once {name} is closed: Esc closes it.")
    hint.show()


def _return_focus_when_closed(dialog: QDialog, previous: QWidget | None) -> None:
    if previous is None or previous.window() is dialog:
        return
    from shiboken6 import isValid

    def give_back(_result: int) -> None:
        if isValid(previous) and previous.isVisible() and previous.isEnabled():
            previous.activateWindow()
            previous.setFocus(Qt.FocusReason.OtherFocusReason)

    dialog.finished.connect(give_back)

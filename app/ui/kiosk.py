"""Kiosk mode: lock after idle minutes and quick staff switching."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui.profiles import Profile
from app.ui.resources import render_svg

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class IdleWatcher(QObject):
    """Emits `idle` after `minutes` without keyboard, mouse or touch input."""

    idle = Signal()

    def __init__(self, app: QApplication, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle)
        self.set_minutes(minutes)
        app.installEventFilter(self)
        self._app = app

    def set_minutes(self, minutes: float) -> None:
        self._timer.setInterval(max(1, int(minutes * 60_000)))
        self._timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS:
            self._timer.start()
        return False

    def stop(self) -> None:
        self._timer.stop()
        self._app.removeEventFilter(self)


class LockScreen(QWidget):
    """Covers the window; staff pick themselves to unlock (or switch)."""

    staffChosen = Signal(object)  # Profile
    addStaffRequested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("LockScreen")
        self.setAccessibleName("Locked")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        logo = QLabel()
        logo.setPixmap(render_svg("app-icon.svg", 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel("Web2Text is locked")
        self.title.setObjectName("LockTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub = QLabel("Tap your name to continue. Customers' messages stay private while locked.")
        sub.setObjectName("Muted")
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.buttons = QHBoxLayout()
        self.buttons.setSpacing(12)
        self.add_button = QPushButton("Add staff…")
        self.add_button.setAccessibleName("Add staff")
        self.add_button.clicked.connect(self.addStaffRequested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(logo)
        layout.addSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(sub)
        layout.addSpacing(20)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(self.buttons)
        row.addStretch(1)
        layout.addLayout(row)
        add_row = QHBoxLayout()
        add_row.addStretch(1)
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        layout.addSpacing(8)
        layout.addLayout(add_row)
        layout.addStretch(2)
        parent.installEventFilter(self)
        self.hide()

    def set_profiles(self, profiles: Sequence[Profile], current: Profile | None) -> None:
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()  # type: ignore[union-attr]
        for p in profiles:
            b = QPushButton(
                p.staff_name
                + ("  (signed in)" if current and p.key_user == current.key_user else "")
            )
            b.setObjectName("Primary" if current and p.key_user == current.key_user else "")
            b.setMinimumSize(160, 48)
            b.setAccessibleName(p.staff_name)
            b.clicked.connect(lambda _=False, prof=p: self.staffChosen.emit(prof))
            self.buttons.addWidget(b)

    def lock(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show()
        self.raise_()
        self.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
        return False

"""System tray: unread badge, notifications, Open/Quit menu; in-window notices without a tray."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from app.ui.plain import notification_text
from app.ui.resources import app_icon, tray_icon

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu

    from app.ui.notify_policy import Notification


class TrayController(QObject):
    openRequested = Signal()
    conversationRequested = Signal(object, object)  # conversation_sid, lead_id
    quitRequested = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        available: bool | None = None,
        *,
        deferred: bool = False,
    ) -> None:
        """`deferred`: the icon (an SVG render and the badge) is made by `show_icon()`,
        which the app calls once its window has painted."""
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.unread = 0
        self.shown: list[Notification] = []  # what was shown (tests, diagnostics)
        self._last: Notification | None = None
        self.icon: QSystemTrayIcon | None = None
        self._menu: tuple[QMenu, QAction, QAction] | None = None
        if not deferred:
            self.show_icon()

    def _make_menu(self) -> tuple[QMenu, QAction, QAction]:
        """Open / Quit, made with the icon (QAction's Python type alone is ~3 ms of a
        start-up that shows no tray menu yet)."""
        if self._menu is None:
            from PySide6.QtGui import QAction
            from PySide6.QtWidgets import QMenu

            menu = QMenu()
            open_action = QAction("Open Web2Text", menu)
            open_action.triggered.connect(self.openRequested)
            quit_action = QAction("Quit", menu)
            quit_action.triggered.connect(self.quitRequested)
            menu.addAction(open_action)
            menu.addSeparator()
            menu.addAction(quit_action)
            self._menu = (menu, open_action, quit_action)
        return self._menu

    @property
    def menu(self) -> QMenu:
        return self._make_menu()[0]

    @property
    def open_action(self) -> QAction:
        return self._make_menu()[1]

    @property
    def quit_action(self) -> QAction:
        return self._make_menu()[2]

    def show_icon(self) -> None:
        if not self.available or self.icon is not None:
            return
        self.icon = QSystemTrayIcon(tray_icon(self.unread), self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self.open_last)
        self.icon.setToolTip(self.tooltip())
        self.icon.show()

    def tooltip(self) -> str:
        if self.unread <= 0:
            return "Web2Text — no unread messages"
        return f"Web2Text — {self.unread} unread message{'s' if self.unread != 1 else ''}"

    def set_unread(self, count: int) -> None:
        self.unread = max(0, count)
        if self.icon is not None:
            self.icon.setIcon(tray_icon(self.unread))
            self.icon.setToolTip(self.tooltip())

    def notify(self, n: Notification) -> None:
        self.shown.append(n)
        self._last = n
        self.show_icon()
        if self.icon is not None:
            # some desktops render a notification's body as markup
            title, body = notification_text(n.title), notification_text(n.body)
            self.icon.showMessage(title, body, app_icon(), 8000)

    def open_last(self) -> None:
        """The user clicked the latest notification."""
        n = self._last
        if n is None:
            self.openRequested.emit()
        else:
            self.conversationRequested.emit(n.conversation_sid, n.lead_id)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.openRequested.emit()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

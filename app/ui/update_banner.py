"""The update banner: the relay says which app versions it accepts (`GET /v1/me`,
`minAppVersion` / `latestAppVersion`, which the engine keeps in its `Me`); below
the latest an update is offered, below the minimum the window is blocked until
the app is updated.

The banner sits in a fixed tool bar above the window's content, so it needs
nothing from the window's own layout. It follows the engine's `me`, read when
the engine starts and then every minute (the engine asks the relay again at
each connection, so a new minimum reaches a running app; reading `me` is no I/O).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QToolBar, QWidget

import app
from app.core.versions import UpdateState, update_state

log = logging.getLogger(__name__)
RECHECK_MS = 60 * 1000


class UpdateBanner(QWidget):
    """Says what `UpdateState` means for the user (its tool bar shows and hides it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setAccessibleName("Update")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # versions come from the relay
        self.label.setWordWrap(True)
        self.dismiss = QPushButton("Later")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss)
        self.state = UpdateState.CURRENT

    def show_state(self, state: UpdateState, minimum: str | None, latest: str | None) -> None:
        self.state = state
        if state is UpdateState.CURRENT:
            return
        if state is UpdateState.REQUIRED:
            text = (
                f"This version of Web2Text ({app.__version__}) is no longer accepted by your "
                f"relay, which needs {minimum} or newer. Install the update to keep texting "
                "(ask your IT contact if you cannot)."
            )
        else:
            text = (
                f"Web2Text {latest} is available (you have {app.__version__}). "
                "Install it when convenient; your IT contact can roll it out."
            )
        self.label.setText(text)
        self.setProperty("kind", "danger" if state is UpdateState.REQUIRED else "info")
        self.dismiss.setVisible(state is UpdateState.AVAILABLE)  # a block cannot be put off
        self.style().unpolish(self)
        self.style().polish(self)


class UpdateCheck(QObject):
    """Puts the banner in `window` and keeps it current with the relay's answer."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.banner = UpdateBanner()
        self.bar = QToolBar("Update")
        self.bar.setObjectName("UpdateBar")
        self.bar.setMovable(False)
        self.bar.setFloatable(False)
        self.bar.toggleViewAction().setVisible(False)
        self.bar.addWidget(self.banner)
        self.banner.dismiss.clicked.connect(self.bar.hide)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)
        self.bar.hide()
        self._source: Callable[[], Any] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(RECHECK_MS)
        self.timer.timeout.connect(self.refresh)

    def apply(self, me: dict[str, Any]) -> UpdateState:
        """Show what `me` (`minAppVersion` / `latestAppVersion`) says about this version."""
        minimum, latest = me.get("minAppVersion"), me.get("latestAppVersion")
        state = update_state(app.__version__, minimum, latest)
        previous = self.banner.state
        self.banner.show_state(state, minimum, latest)
        if state is UpdateState.CURRENT or state is not previous:  # "Later" holds till then
            self.bar.setVisible(state is not UpdateState.CURRENT)
        central = self.window.centralWidget()
        if central is not None:
            central.setEnabled(state is not UpdateState.REQUIRED)
        return state

    def follow(self, me_source: Callable[[], Any]) -> UpdateState | None:
        """Follow `me_source()` (the engine's `me`: an object with `min_app_version` and
        `latest_app_version`, or None before the relay answered); checks at once."""
        self._source = me_source
        self.timer.start()
        return self.refresh()

    def refresh(self) -> UpdateState | None:
        me = self._source() if self._source is not None else None
        if me is None:
            return None
        return self.apply({
            "minAppVersion": getattr(me, "min_app_version", None),
            "latestAppVersion": getattr(me, "latest_app_version", None),
        })

    def stop(self) -> None:
        self.timer.stop()
        self._source = None

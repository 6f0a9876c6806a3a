"""The status bar: the engine's connection, the outbox, the last error."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from app.sync.api import SyncState, SyncStatus
from app.ui.plain import plain_label

STATE_TEXT = {
    SyncState.ONLINE: ("Online", "success"),
    SyncState.SYNCING: ("Syncing…", "accent"),
    SyncState.CONNECTING: ("Connecting…", "text_muted"),
    SyncState.OFFLINE: ("Offline", "danger"),
    SyncState.AUTH_REQUIRED: ("Sign-in needed", "danger"),
    SyncState.STORAGE_PROBLEM: ("Can't save on this PC", "danger"),
    SyncState.REPAIRING: ("Repairing local data…", "accent"),
    SyncState.STOPPED: ("Not connected", "text_muted"),  # before the engine starts, after it stops
}


class SyncStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state_label = QLabel()
        self.state_label.setAccessibleName("Connection status")
        self.queue_label = QLabel()
        self.queue_label.setAccessibleName("Outbox")
        self.error_label = plain_label()  # errors quote what the relay answered
        self.error_label.setAccessibleName("Last error")
        self.addWidget(self.state_label)
        self.addWidget(self.queue_label)
        self.addWidget(self.error_label, 1)

    def show_status(self, status: SyncStatus) -> None:
        text, color = STATE_TEXT.get(status.state, (str(status.state), "text_muted"))
        from app.ui import theme

        hexcolor = getattr(theme.current(), color)
        self.state_label.setText(f"<span style='color:{hexcolor}'>●</span> {text}")
        self.state_label.setAccessibleDescription(text)
        parts = []
        if status.pending:
            parts.append(f"{status.pending} waiting to send")
        if status.failed:
            parts.append(f"{status.failed} failed")
        self.queue_label.setText(" · ".join(parts))
        if status.last_error:
            self.error_label.setText(status.last_error)

    def show_state_text(self, text: str) -> None:
        """A state the engine cannot report (it is not there yet)."""
        import html

        self.state_label.setText(html.escape(text))  # the label is rich (the dot)
        self.state_label.setAccessibleDescription(text)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)

"""The lead panel's "Lead tracking" box: each integration's state as the relay last
reported it ("RLM ✓ 2 min ago", "DHQ: retrying — 503") and "Sync now"."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.sync.api import IntegrationItem, LeadDetail
from app.ui import fmt
from app.ui.plain import plain_label, tooltip

__all__ = ["IntegrationsBox", "integration_text"]


def ago(dt: datetime | None, now: datetime | None = None) -> str:
    """'just now', '2 min ago', '3 h ago', '4 d ago'."""
    if dt is None:
        return ""
    seconds = max(0, int(((now or fmt.now_utc()) - dt).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def integration_text(item: IntegrationItem, now: datetime | None = None) -> str:
    """One line per integration, plain text (errors come from other systems)."""
    why = item.detail or (item.error or "error")[:60]
    if item.status == "ERROR":
        text = f"{item.name}: {'retrying' if item.retrying else 'failed'} — {why}"
    elif item.status in ("SYNCED", "CLOSED"):
        when = ago(item.last_synced, now)
        text = f"{item.name} ✓" + (f" {when}" if when else "")
        if item.status == "CLOSED":
            text += " (closed)"
    else:
        text = f"{item.name}: waiting"
    if item.unconfirmed:
        text += f" · {item.unconfirmed} unconfirmed"
    return text


class IntegrationsBox(QWidget):
    syncRequested = Signal(str)  # lead_id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Lead tracking")
        self._lead_id: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(2)
        layout.addLayout(self.rows)
        bar = QHBoxLayout()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setAccessibleName("Sync now")
        self.sync_button.setToolTip("Send this lead to the lead-tracking systems again")
        self.sync_button.clicked.connect(self._on_sync)
        self.note = plain_label("")
        self.note.setObjectName("Muted")
        bar.addWidget(self.sync_button)
        bar.addWidget(self.note, 1)
        layout.addLayout(bar)

    def set_lead(self, lead: LeadDetail | None) -> None:
        changed = lead is None or lead.lead_id != self._lead_id
        self._lead_id = lead.lead_id if lead is not None else None
        if changed:
            self.note.setText("")
            self.sync_button.setEnabled(lead is not None)
        while self.rows.count():
            taken = self.rows.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.deleteLater()
        for item in lead.integrations if lead is not None else ():
            self.rows.addWidget(self._row(item))

    def _row(self, item: IntegrationItem) -> QLabel:
        label = plain_label(integration_text(item))
        label.setWordWrap(True)
        label.setMinimumWidth(1)
        label.setObjectName("IntegrationError" if item.status == "ERROR" else "Muted")
        label.setAccessibleName(integration_text(item))
        if item.error:
            label.setToolTip(tooltip(item.error))  # other systems' words, read as typed
        return label

    def sync_done(self, error: str | None) -> None:
        """The relay took the request (None) or could not (its message)."""
        self.sync_button.setEnabled(self._lead_id is not None)
        self.note.setText(error or "Sync requested")

    def _on_sync(self) -> None:
        if self._lead_id is not None:
            self.sync_button.setEnabled(False)
            self.note.setText("Syncing…")
            self.syncRequested.emit(self._lead_id)

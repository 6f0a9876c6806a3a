"""Engine events → Qt signals, in one place.

The engine calls `on_event` on the asyncio loop, which under qasync is the Qt
thread; the signals are emitted right there, so slots run at once and in order.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.sync.api import (
    ChangesApplied,
    EngineEvent,
    InboundMessages,
    OutboxItemDelivered,
    OutboxItemFailed,
    StatusChanged,
)


class EngineBridge(QObject):
    changesApplied = Signal(object)  # ChangesApplied
    statusChanged = Signal(object)  # SyncStatus
    inboundMessages = Signal(object)  # InboundMessages
    outboxFailed = Signal(object)  # OutboxItemFailed
    outboxDelivered = Signal(object)  # OutboxItemDelivered

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, ChangesApplied):
            self.changesApplied.emit(event)
        elif isinstance(event, StatusChanged):
            self.statusChanged.emit(event.status)
        elif isinstance(event, InboundMessages):
            self.inboundMessages.emit(event)
        elif isinstance(event, OutboxItemFailed):
            self.outboxFailed.emit(event)
        elif isinstance(event, OutboxItemDelivered):
            self.outboxDelivered.emit(event)

"""Engine events → Qt signals, in one place, and how controllers listen to them.

The engine calls `on_event` on the asyncio loop, which under qasync is the Qt
thread; the signals are emitted right there, so slots run at once and in order.
Each pane's controller connects its own slots (`BridgeSlots`) and reacts only to
the ids it shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

from app.sync.api import (
    ChangesApplied,
    EngineEvent,
    InboundMessages,
    OutboxItemDelivered,
    OutboxItemFailed,
    PresenceChanged,
    StatusChanged,
)


class EngineBridge(QObject):
    changesApplied = Signal(object)  # ChangesApplied
    statusChanged = Signal(object)  # SyncStatus
    inboundMessages = Signal(object)  # InboundMessages
    outboxFailed = Signal(object)  # OutboxItemFailed
    outboxDelivered = Signal(object)  # OutboxItemDelivered
    presenceChanged = Signal(object)  # PresenceChanged

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
        elif isinstance(event, PresenceChanged):
            self.presenceChanged.emit(event)


Connections = Callable[[EngineBridge], list[tuple[SignalInstance, Callable[[Any], None]]]]


class BridgeSlots:
    """One controller's slots on the running engine's bridge, moved together when the
    engine changes (a staff switch starts another engine with a bridge of its own)."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._bridge: EngineBridge | None = None

    def attach(self, bridge: EngineBridge | None) -> None:
        if self._bridge is not None:
            for signal, slot in self._connections(self._bridge):
                signal.disconnect(slot)
        self._bridge = bridge
        if bridge is not None:
            for signal, slot in self._connections(bridge):
                signal.connect(slot)


class OwnCommands:
    """A controller's engine commands under way, per id (a conversation, a lead).

    The engine reports a command's local effect (`ChangesApplied` with `local` set,
    naming only that id) before the command returns. A controller that shows the
    command's answer itself uses this to tell that echo from other changes and skip
    the reload it would cause.
    """

    def __init__(self) -> None:
        self._running: Counter[Hashable] = Counter()

    @contextmanager
    def running(self, key: Hashable) -> Iterator[None]:
        self._running[key] += 1
        try:
            yield
        finally:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]

    def busy(self, key: Hashable) -> bool:
        return self._running[key] > 0

    def echo_of_conversation(self, ev: ChangesApplied, sid: str) -> bool:
        """`ev` is only the local effect of a command on conversation `sid` under way."""
        return (
            ev.local
            and self._running[sid] > 0
            and ev.conversation_sids == {sid}
            and not (ev.lead_ids or ev.message_sids or ev.location_ids)
        )

    def echo_of_lead(self, ev: ChangesApplied, lead_id: str) -> bool:
        """`ev` is only the local effect of a command on lead `lead_id` under way."""
        return (
            ev.local
            and self._running[lead_id] > 0
            and ev.lead_ids == {lead_id}
            and not (ev.conversation_sids or ev.message_sids or ev.location_ids)
        )

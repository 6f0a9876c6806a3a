"""New customer messages → tray notifications (or in-window notices), and the tray's
unread count, for the running engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from app.sync.api import ChangesApplied, Engine, InboundMessages, SyncState, SyncStatus
from app.ui.bridge import BridgeSlots, EngineBridge
from app.ui.tasks import Tasks
from app.ui.tray import TrayController

if TYPE_CHECKING:
    from app.ui.mainwindow import MainWindow
    from app.ui.notify_policy import Notification, NotificationPolicy


class Notifier(QObject):
    """Decides with a `NotificationPolicy` (one per engine start) what to notify."""

    #: the unread count follows a burst of changes at most this often
    UNREAD_COALESCE_MS = 200

    def __init__(
        self,
        tray: TrayController,
        window: MainWindow,
        *,
        locked: Callable[[], bool],
        before_count: Callable[[], None],
        tasks: Tasks,
        parent: QObject | None = None,
    ) -> None:
        """`locked`: the kiosk lock screen is up (the window is not really seen);
        `before_count`: called before the tray shows a count (its icon must exist)."""
        super().__init__(parent)
        self._tray = tray
        self._window = window
        self._locked = locked
        self._before_count = before_count
        self._tasks = tasks
        self._engine: Engine | None = None
        self.policy: NotificationPolicy | None = None
        self._events = BridgeSlots(
            lambda b: [
                (b.inboundMessages, self._on_inbound),
                (b.statusChanged, self._on_status),
                (b.changesApplied, self._on_changes),
            ]
        )
        self._unread_timer = QTimer(self)
        self._unread_timer.setSingleShot(True)
        self._unread_timer.setInterval(self.UNREAD_COALESCE_MS)
        self._unread_timer.timeout.connect(lambda: self._tasks.spawn(self._refresh_unread()))

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        self._engine = engine
        self._events.attach(bridge)
        self.policy = None
        if engine is not None:
            from app.ui.notify_policy import NotificationPolicy

            self.policy = NotificationPolicy()
            self._on_status(engine.status())

    def refresh_unread_soon(self) -> None:
        self._unread_timer.start()

    def stop(self) -> None:
        self._unread_timer.stop()

    def _on_status(self, status: SyncStatus) -> None:
        if status.state is SyncState.ONLINE and self.policy is not None:
            self.policy.catch_up_finished()

    def _on_changes(self, _ev: ChangesApplied) -> None:
        if not self._unread_timer.isActive():
            self._unread_timer.start()

    def _on_inbound(self, batch: InboundMessages) -> None:
        if self.policy is None:  # (events come from a started engine, which made one)
            return
        w = self._window
        focused = w.isVisible() and w.isActiveWindow() and not self._locked()
        for n in self.policy.decide(batch, w.open_conversation_sid, focused):
            self.show(n)

    def show(self, n: Notification) -> None:
        """In the tray, or as an in-window notice where there is no tray."""
        if self._tray.available:
            self._tray.notify(n)
        else:
            self._tray.shown.append(n)
            self._window.show_notice(n.title, n.body, n.conversation_sid, n.lead_id)

    async def _refresh_unread(self) -> None:
        self._before_count()
        engine = self._engine
        if engine is None:
            return
        rows = await engine.list_locations()
        self._tray.set_unread(sum(r.unread for r in rows))

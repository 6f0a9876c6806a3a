"""The lead panel's controller: the open lead's details and the commands that change it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.sync.api import UNSET, ChangesApplied, Engine, EngineError, LeadDetail, _Unset
from app.ui.bridge import BridgeSlots, EngineBridge, OwnCommands
from app.ui.tasks import Tasks

if TYPE_CHECKING:
    from app.ui.leadpanel import LeadPanel


class LeadPanelController(QObject):
    """Owns the open lead (`current`) and the lead panel, built on first use and placed
    and shown by the window (`place_panel`, `PaneLayout`); runs `update_lead` (pipeline,
    assignee, note).

    The open lead is read again after changes to it or to its conversation (at most
    every RELOAD_MS during bursts), not after the echo of its own update, whose
    answer it shows.
    """

    #: the lead is shown: (LeadDetail, opened) — opened: by the user, not a refresh
    leadShown = Signal(object, bool)
    error = Signal(str)  # an update the engine refused

    RELOAD_MS = 150

    def __init__(
        self, place_panel: Callable[[LeadPanel], None], tasks: Tasks, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._place_panel = place_panel
        self._tasks = tasks
        self._engine: Engine | None = None
        self._events = BridgeSlots(lambda b: [(b.changesApplied, self._on_changes)])
        self._updating = OwnCommands()
        self.current: LeadDetail | None = None
        self._panel: LeadPanel | None = None
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(self.RELOAD_MS)
        self._reload_timer.timeout.connect(self._reload_current)

    @property
    def panel(self) -> LeadPanel:
        """The lead panel (hidden until a lead is opened), built on first use."""
        if self._panel is None:
            from app.ui.leadpanel import LeadPanel  # not on the first frame's path

            panel = self._panel = LeadPanel()
            panel.setMinimumWidth(270)
            panel.statusChosen.connect(lambda lid, s: self.update(lid, status=s))
            panel.assigneeChosen.connect(lambda lid, a: self.update(lid, assignee_id=a))
            panel.noteAdded.connect(lambda lid, n: self.update(lid, note=n))
            panel.syncRequested.connect(self.sync_now)
            panel.hide()
            self._place_panel(panel)
        return self._panel

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        self._engine = engine
        self._events.attach(bridge)
        self.current = None
        self._reload_timer.stop()
        if self._panel is not None:
            self._panel.set_lead(None, None)
            self._panel.hide()

    # ------------------------------------------------------------------ reading

    def open(self, lead_id: str) -> None:
        self._tasks.spawn(self._load(lead_id, opened=True))

    async def _load(self, lead_id: str, *, opened: bool) -> None:
        engine = self._engine
        if engine is None:
            return
        lead = await engine.get_lead(lead_id)
        if lead is None or engine is not self._engine:
            return
        if not opened and (self.current is None or self.current.lead_id != lead_id):
            return  # another lead was opened meanwhile
        self._show(lead, engine)
        self.leadShown.emit(lead, opened)  # the window shows the panel (PaneLayout)

    def _show(self, lead: LeadDetail, engine: Engine) -> None:
        self.current = lead
        self.panel.set_lead(lead, engine.me)

    def _on_changes(self, ev: ChangesApplied) -> None:
        cur = self.current
        if cur is None:
            return
        if self._updating.echo_of_lead(ev, cur.lead_id):
            return
        sid = cur.conversation_sid
        ours = cur.lead_id in ev.lead_ids or (sid is not None and sid in ev.conversation_sids)
        if ours and not self._reload_timer.isActive():
            self._reload_timer.start()

    def _reload_current(self) -> None:
        if self.current is not None:
            self._tasks.spawn(self._load(self.current.lead_id, opened=False))

    # ------------------------------------------------------------------ commands

    def update(
        self,
        lead_id: str,
        *,
        status: str | _Unset = UNSET,
        assignee_id: str | _Unset | None = UNSET,
        note: str | None = None,
    ) -> None:
        if self._engine is not None:
            self._tasks.spawn(self._update(self._engine, lead_id, status, assignee_id, note))

    async def _update(
        self,
        engine: Engine,
        lead_id: str,
        status: str | _Unset,
        assignee_id: str | _Unset | None,
        note: str | None,
    ) -> None:
        try:
            with self._updating.running(lead_id):
                lead = await engine.update_lead(
                    lead_id, status=status, assignee_id=assignee_id, note=note
                )
        except EngineError as exc:
            self.error.emit(exc.message)
            return
        if self.current is not None and self.current.lead_id == lead_id:
            self._show(lead, engine)
            self.leadShown.emit(lead, False)

    def sync_now(self, lead_id: str) -> None:
        """ "Sync now": the relay runs the lead's integrations again; their new states
        come back through the change feed."""
        if self._engine is not None:
            self._tasks.spawn(self._sync_now(self._engine, lead_id))

    async def _sync_now(self, engine: Engine, lead_id: str) -> None:
        try:
            await engine.sync_lead(lead_id)
        except EngineError as exc:
            if self._panel is not None:
                self._panel.integrations.sync_done(exc.message)
            return
        current = self.current
        if self._panel is not None and current is not None and current.lead_id == lead_id:
            self._panel.integrations.sync_done(None)

"""The conversation pane's controller: one lead's thread, the composer, message commands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.sync.api import (
    ChangesApplied,
    Engine,
    EngineError,
    LeadDetail,
    LeadRow,
    OutboxItemFailed,
    ThreadMessage,
)
from app.ui.bridge import BridgeSlots, EngineBridge, OwnCommands
from app.ui.conversation import ConversationPane
from app.ui.presence import PresenceBoard
from app.ui.tasks import Tasks
from app.ui.thread_model import ThreadModel

if TYPE_CHECKING:
    from app.ui.settings import Template


class ConversationController(QObject):
    """Owns the thread's model (`ThreadModel`) and the commands on messages: send,
    retry, discard, mark read.

    It reloads the thread for changes to its conversation (or to messages, which do
    not name theirs), but not for the echo of its own send or mark-read: a sent
    message is added from the send's answer, and marking read changes no bubble.
    """

    error = Signal(str)  # a command the engine refused, or a send that failed later

    def __init__(self, pane: ConversationPane, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pane = pane
        self.model = ThreadModel(tasks, self)
        self._tasks = tasks
        self._engine: Engine | None = None
        self._events = BridgeSlots(
            lambda b: [
                (b.changesApplied, self._on_changes),
                (b.changesApplied, self._on_shared_templates_changed),
                (b.outboxFailed, self._on_outbox_failed),
            ]
        )
        #: sends and mark-reads under way: their echo needs no reload
        self._answered = OwnCommands()
        #: retries under way: their echo (which looks like a send's) must reload
        self._retrying = OwnCommands()
        self.lead: LeadDetail | None = None
        self._sid: str | None = None  # the conversation on screen (the row's, then the lead's)
        #: what was typed and not sent, per conversation (kept while another one is open)
        self._drafts: dict[str, str] = {}
        self._templates: list[Template] = []
        self.presence = PresenceBoard(tasks, self)
        self.presence.changed.connect(pane.show_presence)
        pane.typed.connect(self.presence.typed)
        pane.show_model(self.model)
        pane.sendRequested.connect(self._send)
        pane.retryRequested.connect(self._retry)
        pane.discardRequested.connect(self._discard)
        pane.sendLaterRequested.connect(self._send_later)
        pane.cancelScheduled.connect(self._cancel_scheduled)
        pane.editScheduled.connect(self._edit_scheduled)

    @property
    def conversation_sid(self) -> str | None:
        """The conversation on screen: its row's as soon as the row is shown, so a reply
        typed before the lead's details are in goes to it (and never to the last one)."""
        return self._sid

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        self._engine = engine
        self._events.attach(bridge)
        self.presence.set_engine(engine, bridge)
        self.show_lead(None)
        self._drafts.clear()  # another staff member's, or nobody's
        self.model.set_engine(engine)

    def _switch_to(self, sid: str | None) -> None:
        """The composer keeps each conversation's unsent text while another is open."""
        if sid == self._sid:
            return
        previous, self._sid = self._sid, sid
        self.presence.open(sid)
        if not self.pane.built:
            return
        composer = self.pane.composer
        text = composer.text()
        if previous is not None and text.strip():
            self._drafts[previous] = text
        elif previous is not None:
            self._drafts.pop(previous, None)
        composer.edit.setPlainText(self._drafts.get(sid, "") if sid else "")

    # ------------------------------------------------------------------ what is shown

    def show_row(self, row: LeadRow, *, location_name: str = "") -> None:
        """The header from an inbox row, and its thread loading: `show_lead` completes it."""
        self.pane.show_row(row)
        self._switch_to(row.conversation_sid)
        self.model.open(row.conversation_sid)
        self.model.set_location_name(location_name)

    def show_lead(
        self,
        lead: LeadDetail | None,
        *,
        location_name: str = "",
        location_tz: str | None = None,
        location_hours: str | None = None,
    ) -> None:
        previous, self.lead = self.lead, lead
        self.pane.show_lead(lead, hours=location_hours)
        self._switch_to(lead.conversation_sid if lead else None)
        if lead is None:
            self.model.open(None)
            return
        if previous is None or previous.conversation_sid != lead.conversation_sid:
            self.model.open(lead.conversation_sid)  # no-op when show_row already opened it
        self.model.set_location_name(lead.location_name or location_name)
        self._set_composer_context(lead, location_name, location_tz)
        if previous is None or previous.location_id != lead.location_id:
            self._load_shared_templates(lead.location_id, lead.location_name or location_name)

    # ------------------------------------------------------------------ shared templates

    def _load_shared_templates(self, location_id: str, location_name: str) -> None:
        engine = self._engine
        if engine is not None:
            self._tasks.spawn(self._shared_templates(engine, location_id, location_name))

    async def _shared_templates(self, engine: Engine, location_id: str, name: str) -> None:
        from app.ui.settings import Template

        shared = await engine.shared_templates(location_id)
        if self.lead is None or self.lead.location_id != location_id:
            return  # another lead opened meanwhile
        self.pane.set_shared_templates(
            [Template(t.name, t.body) for t in shared.templates], name
        )

    def _on_shared_templates_changed(self, ev: ChangesApplied) -> None:
        lead = self.lead
        if lead is not None and lead.location_id in ev.location_ids:
            self._load_shared_templates(lead.location_id, lead.location_name or "")

    def set_templates(self, templates: list[Template]) -> None:
        self._templates = list(templates)
        self.pane.set_templates(self._templates)

    def _set_composer_context(
        self, lead: LeadDetail, location_name: str, location_tz: str | None
    ) -> None:
        me = self._engine.me if self._engine else None
        from app.core.templates import split_name  # with the composer, not at start-up

        first, last = split_name(lead.name)
        composer = self.pane.composer
        composer.set_merge_fields(
            {
                "first_name": first,
                "last_name": last,
                "staff_name": me.name.split()[0] if me and me.name else "",
                "location_name": lead.location_name or location_name,
            }
        )
        composer.set_templates(self._templates)
        phone, model = lead.phone, self.model

        def check(now: datetime) -> str | None:
            last_inbound = max(
                (m.created_at for m in model.messages if m.author_kind == "customer"),
                default=None,
            )
            # phonenumbers and zoneinfo load on first use, not on the start-up path
            from app.ui.quiet import quiet_hours_warning

            return quiet_hours_warning(
                now, phone=phone, location_tz=location_tz, last_inbound_at=last_inbound
            )

        composer.set_quiet_hours_check(check)
        from app.ui.send_later import customer_zone

        def next_allowed(now: datetime) -> datetime | None:
            from app.core import quiet_hours as qh

            last = max((m.created_at for m in model.messages if m.author_kind == "customer"),
                       default=None)
            decision = qh.check(now, last, location_tz, phone or None)
            return None if decision.allowed else decision.next_allowed_at

        composer.set_customer_time(customer_zone(phone, location_tz), next_allowed)

    # ------------------------------------------------------------------ engine events

    def _on_changes(self, ev: ChangesApplied) -> None:
        sid = self.conversation_sid
        if sid is None:
            return
        if sid in ev.conversation_sids:
            if self._answered.echo_of_conversation(ev, sid) and not self._retrying.busy(sid):
                return
            self.model.reload()
            if self.pane.isActiveWindow() and not ev.local:
                self.mark_read()
        elif sid in ev.thread_sids or (ev.message_sids and not ev.thread_sids):
            # a message of this thread changed (its status, say); a change that does
            # not say whose messages it holds may be this thread's too
            self.model.reload()

    def _on_outbox_failed(self, ev: OutboxItemFailed) -> None:
        self.error.emit(f"Not sent: {ev.message}")
        if ev.conversation_sid is not None and ev.conversation_sid == self.conversation_sid:
            self.model.reload()

    # ------------------------------------------------------------------ commands

    def mark_read(self) -> None:
        sid = self.conversation_sid
        if self._engine is not None and sid is not None:
            self._tasks.spawn(self._mark_read(self._engine, sid))

    async def _mark_read(self, engine: Engine, sid: str) -> None:
        with self._answered.running(sid):
            await engine.mark_read(sid)

    def _send(self, text: str, send_at: datetime | None = None) -> None:
        sid = self.conversation_sid
        if self._engine is None or sid is None:
            return
        photo = self.pane.composer.take_attachment()
        self.pane.composer.clear()
        self._drafts.pop(sid, None)
        self._tasks.spawn(self._do_send(self._engine, sid, text, photo, send_at))

    def _send_later(self, text: str, send_at: datetime) -> None:
        self._send(text, send_at)

    def _cancel_scheduled(self, m: ThreadMessage) -> None:
        if self._engine is not None and m.message_sid:
            self._tasks.spawn(self._cancel(self._engine, m.message_sid))

    async def _cancel(self, engine: Engine, message_sid: str) -> None:
        try:
            await engine.cancel_scheduled(message_sid)
        except EngineError as exc:
            self.error.emit(exc.message)

    def _edit_scheduled(self, m: ThreadMessage) -> None:
        """Edit a text for later: it is cancelled and its words go back to the composer."""
        self._cancel_scheduled(m)
        self.pane.composer.edit.setPlainText(m.body)
        self.pane.focus_composer()

    async def _do_send(
        self, engine: Engine, sid: str, text: str, photo: Path | None = None,
        send_at: datetime | None = None,
    ) -> None:
        try:
            with self._answered.running(sid):
                if photo is None and send_at is None:
                    msg = await engine.send_message(sid, text)
                else:
                    msg = await engine.send_message(sid, text, photo, send_at=send_at)
        except EngineError as exc:
            if sid == self._sid:
                self.pane.composer.edit.setPlainText(text)
                if photo is not None:
                    self.pane.composer.set_attachment(photo)
            else:  # another conversation is open now: the text waits in its own draft
                self._drafts[sid] = text
            self.error.emit(exc.message)
            return
        self.model.add_local(msg)

    def _retry(self, m: ThreadMessage) -> None:
        if self._engine is None:
            return
        if m.outbox_id:
            self._tasks.spawn(self._retry_outbox(self._engine, m.conversation_sid, m.outbox_id))
        else:  # Twilio reported it failed: send the text again as a new message
            self._tasks.spawn(self._do_send(self._engine, m.conversation_sid, m.body))

    async def _retry_outbox(self, engine: Engine, sid: str, outbox_id: str) -> None:
        with self._retrying.running(sid):
            await engine.retry(outbox_id)

    def _discard(self, m: ThreadMessage) -> None:
        if self._engine is not None and m.outbox_id:
            self._tasks.spawn(self._discard_and_reload(self._engine, m.outbox_id))

    async def _discard_and_reload(self, engine: Engine, outbox_id: str) -> None:
        await engine.discard(outbox_id)
        self.model.reload()

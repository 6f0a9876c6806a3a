"""The staff actions beyond answering: start a conversation (Ctrl+N, or "Follow up"
on a closed lead), close a lead with a reason, record an opt-out the customer asked
for, dismiss a possible opt-out for every desktop, and the colleagues a lead can be
assigned to. Each asks what it needs in a dialog and hands it to the engine, which
shows it at once and delivers it through its outbox."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from app.sync.api import Engine, EngineError, LeadDetail, NewConversation, StaffMember
from app.ui.tasks import Tasks

# The dialogs (and phonenumbers behind them) load on first use, not with the window.


class StaffActions(QObject):
    leadCreated = Signal(str)  # the new lead's id (the window opens it)
    colleagues = Signal(str, object)  # lead_id, list[StaffMember] of the lead's location
    error = Signal(str)

    def __init__(self, window: QWidget, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self._tasks = tasks
        self._engine: Engine | None = None
        #: the dialog open now (tests and the keyboard reach it here)
        self.dialog: QDialog | None = None

    def set_engine(self, engine: Engine | None) -> None:
        self._engine = engine
        if self.dialog is not None:  # signed out or switched: its answer has no engine
            self.dialog.close()

    def _open(self, dialog: QDialog) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dialog
        dialog.finished.connect(lambda _r: self._forget(dialog))
        dialog.open()

    def _forget(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _run(self, what: str, step: object) -> None:
        async def guarded() -> None:
            try:
                await step  # type: ignore[misc]
            except EngineError as exc:
                self.error.emit(f"{what}: {exc.message}")

        self._tasks.spawn(guarded())

    # ------------------------------------------------------------------ new conversation

    def new_conversation(self, follow_up: LeadDetail | None = None) -> None:
        """The new-conversation dialog; `follow_up`: prefilled from a closed lead."""
        if self._engine is not None:
            self._tasks.spawn(self._new_conversation(self._engine, follow_up))

    async def _new_conversation(self, engine: Engine, lead: LeadDetail | None) -> None:
        from app.ui.staff_dialogs import NewConversationDialog

        locations = list(await engine.list_locations())
        if not locations:
            self.error.emit("No location to start a conversation in yet.")
            return
        if lead is None:
            dialog = NewConversationDialog(locations, self._window)
        else:
            dialog = NewConversationDialog(
                locations, self._window, location_id=lead.location_id, name=lead.name,
                phone=lead.phone, title=f"Follow up with {lead.name or 'the customer'}",
            )
        dialog.submitted.connect(lambda new: self._create(engine, new))
        self._open(dialog)

    def _create(self, engine: Engine, new: NewConversation) -> None:
        async def create() -> None:
            lead_id = await engine.create_lead(new)
            self.leadCreated.emit(lead_id)

        self._run("Not started", create())

    # ------------------------------------------------------------------ close, opt-out

    def close_lead(self, lead: LeadDetail) -> None:
        engine = self._engine
        if engine is None:
            return
        from app.ui.staff_dialogs import CLOSE_REASONS, ReasonDialog

        dialog = ReasonDialog(
            "Close lead", f"Why is the lead of {lead.name or 'this customer'} closed?",
            "Close lead", CLOSE_REASONS, self._window)
        dialog.reasonGiven.connect(
            lambda reason: self._run("Not closed", engine.close_lead(lead.lead_id, reason)))
        self._open(dialog)

    def record_opt_out(self, lead: LeadDetail) -> None:
        engine, sid = self._engine, lead.conversation_sid
        if engine is None or sid is None:
            return
        from app.ui.staff_dialogs import OPT_OUT_REASONS, ReasonDialog

        dialog = ReasonDialog(
            "Record opt-out",
            f"{lead.name or 'The customer'} asked not to be texted. Nothing more is sent "
            "to them and their leads close.",
            "Record opt-out", OPT_OUT_REASONS, self._window)
        dialog.reasonGiven.connect(
            lambda reason: self._run("Opt-out not recorded", engine.opt_out(sid, reason)))
        self._open(dialog)

    def dismiss_possible_opt_out(self, lead_id: str) -> None:
        if self._engine is not None:
            self._run("Not dismissed", self._engine.dismiss_possible_opt_out(lead_id))

    # ------------------------------------------------------------------ colleagues

    def load_colleagues(self, lead: LeadDetail) -> None:
        """Ask for the staff of the lead's location; answered by `colleagues`."""
        if self._engine is not None:
            self._tasks.spawn(self._colleagues(self._engine, lead))

    async def _colleagues(self, engine: Engine, lead: LeadDetail) -> None:
        members: list[StaffMember] = [
            m for m in await engine.list_staff() if lead.location_id in m.location_ids
        ]
        self.colleagues.emit(lead.lead_id, members)

"""The lead panel: what the customer submitted, pipeline, assignee, lead tracking,
notes, activity."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.statuses import PIPELINE_ORDER
from app.sync.api import TEXTED_IN, LeadDetail, Me, StaffMember
from app.ui import fmt
from app.ui.integrations_box import IntegrationsBox
from app.ui.plain import plain_label

__all__ = ["LeadPanel"]
FIELDS = [
    "Name",
    "Phone",
    "Prefers",
    "Message",
    "Page",
    "Product",
    "Source",
    "Location",
    "Submitted",
    "Closed",
]


def _section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("SectionTitle")
    return label


def _wrapping(label: QLabel) -> QLabel:
    """Wrapped text that never widens the panel: a word longer than a line (a page URL)
    is cut at the panel's edge instead of pushing the menus and buttons out of sight."""
    label.setWordWrap(True)
    label.setMinimumWidth(1)
    return label


def _value(text: str) -> QLabel:
    label = _wrapping(plain_label(text))  # what the customer typed, as typed
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAccessibleName(text)
    return label


class LeadPanel(QScrollArea):
    statusChosen = Signal(str, str)  # lead_id, pipeline status
    assigneeChosen = Signal(str, object)  # lead_id, staff id or None
    noteAdded = Signal(str, str)  # lead_id, text
    syncRequested = Signal(str)  # lead_id: "Sync now"
    closeRequested = Signal(str)  # lead_id
    followUpRequested = Signal(str)  # lead_id (a closed lead)
    optOutRequested = Signal(str)  # lead_id
    colleaguesWanted = Signal(object)  # LeadDetail: fill the assignee menu

    #: past this many entries the assignee menu takes typed text to find a name
    SEARCHABLE_AFTER = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LeadPanel")
        self.setAccessibleName("Lead details")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._lead: LeadDetail | None = None
        self._me: Me | None = None

        body = QWidget()
        body.setObjectName("LeadPanel")
        self.setWidget(body)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(18, 16, 18, 18)
        self._layout.setSpacing(8)
        self._layout.addWidget(_section("Pipeline"))
        self._layout.addLayout(self._pipeline_form())
        self._layout.addWidget(self.saving)
        self._layout.addLayout(self._actions_row())
        self._layout.addSpacing(10)
        self._layout.addLayout(self._submitted_title())
        self._layout.addLayout(self._submitted_form())
        self._layout.addSpacing(10)
        self._layout.addWidget(_section("Lead tracking"))
        self.integrations = IntegrationsBox()
        self.integrations.syncRequested.connect(self.syncRequested)
        self._layout.addWidget(self.integrations)
        self._layout.addSpacing(10)
        self._layout.addWidget(_section("Notes"))
        self._layout.addLayout(self._notes_box())
        self._layout.addLayout(self._note_row())
        self._layout.addSpacing(10)
        self._layout.addWidget(_section("Activity"))
        self.activity_box = QVBoxLayout()
        self.activity_box.setSpacing(4)
        self._layout.addLayout(self.activity_box)
        self._layout.addStretch(1)
        self.set_lead(None, None)

    def _pipeline_form(self) -> QFormLayout:
        self.pipeline = QComboBox()
        self.pipeline.setAccessibleName("Pipeline status")
        for status in PIPELINE_ORDER:
            self.pipeline.addItem(fmt.PIPELINE_LABELS[status], status.value)
        self.pipeline.activated.connect(self._on_pipeline)
        self.assignee = QComboBox()
        self.assignee.setAccessibleName("Assignee")
        self.assignee.activated.connect(self._on_assignee)
        self.saving = QLabel("Saving…")
        self.saving.setObjectName("Muted")
        self.saving.hide()
        form = QFormLayout()
        form.setVerticalSpacing(8)
        form.addRow("Status", self.pipeline)
        form.addRow("Assignee", self.assignee)
        return form

    def _actions_row(self) -> QHBoxLayout:
        self.close_button = QPushButton("Close lead…")
        self.close_button.setAccessibleName("Close lead")
        self.close_button.setToolTip("Close this lead with a reason")
        self.follow_up_button = QPushButton("Follow up")
        self.follow_up_button.setAccessibleName("Follow up")
        self.follow_up_button.setToolTip("Start a new conversation with this customer")
        self.opt_out_button = QPushButton("Opted out…")
        self.opt_out_button.setAccessibleName("Record opt-out")
        self.opt_out_button.setToolTip("The customer asked not to be texted")
        for button, signal in (
            (self.close_button, self.closeRequested),
            (self.follow_up_button, self.followUpRequested),
            (self.opt_out_button, self.optOutRequested),
        ):
            button.clicked.connect(lambda _c=False, sig=signal: self._emit_for_lead(sig))
        row = QHBoxLayout()
        row.addWidget(self.close_button)
        row.addWidget(self.follow_up_button)
        row.addWidget(self.opt_out_button)
        row.addStretch(1)
        return row

    def _emit_for_lead(self, signal: Signal) -> None:
        if self._lead is not None:
            signal.emit(self._lead.lead_id)  # type: ignore[attr-defined]

    def set_colleagues(self, lead_id: str, members: list[StaffMember]) -> None:
        """The assignee menu: Unassigned, me, the staff of the lead's location."""
        lead = self._lead
        if lead is None or lead.lead_id != lead_id:
            return
        self._fill_assignees(lead, self._me, members)

    def _fill_assignees(
        self, lead: LeadDetail, me: Me | None, members: list[StaffMember]
    ) -> None:
        box = self.assignee
        box.blockSignals(True)
        box.clear()
        box.addItem("Unassigned", None)
        if me is not None:
            box.addItem(f"Me ({me.name})", me.staff_id)
        for member in members:
            if me is None or member.staff_id != me.staff_id:
                box.addItem(member.name, member.staff_id)
        if lead.assignee_id and box.findData(lead.assignee_id) < 0:
            box.addItem(lead.assignee_name or lead.assignee_id, lead.assignee_id)
        searchable = box.count() > self.SEARCHABLE_AFTER
        box.setEditable(searchable)
        if searchable:
            box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            completer = box.completer()
            if completer is not None:
                completer.setFilterMode(Qt.MatchFlag.MatchContains)
                completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        box.setCurrentIndex(max(0, box.findData(lead.assignee_id)))
        box.blockSignals(False)

    def _submitted_title(self) -> QHBoxLayout:
        """The section's title, and the "Texted in" mark of a lead a text made."""
        self.texted_in = QLabel("Texted in")
        self.texted_in.setObjectName("SourceChip")
        self.texted_in.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.texted_in.setToolTip(
            "The customer texted the store's number; this lead was made from their text"
        )
        self.texted_in.setAccessibleName("Texted in: the customer texted the store's number")
        self.texted_in.setVisible(False)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(_section("Submitted"))
        row.addWidget(self.texted_in)
        row.addStretch(1)
        return row

    def _submitted_form(self) -> QFormLayout:
        self.info = QFormLayout()
        self.info.setHorizontalSpacing(12)
        self.info.setVerticalSpacing(6)
        self.info.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        # one row per field, made once and refilled per lead (switching leads stays cheap)
        self._values: dict[str, QLabel] = {}
        self._rows: dict[str, int] = {}
        for caption in FIELDS:
            key = QLabel(caption)
            key.setObjectName("Muted")
            self._rows[caption] = self.info.rowCount()
            self._values[caption] = _value("")
            self.info.addRow(key, self._values[caption])
        return self.info

    def _notes_box(self) -> QVBoxLayout:
        self.notes_box = QVBoxLayout()
        self.notes_box.setSpacing(6)
        return self.notes_box

    def _note_row(self) -> QHBoxLayout:
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Add a note for the team…")
        self.note_edit.setAccessibleName("Note")
        self.note_edit.returnPressed.connect(self._on_note)
        self.note_button = QPushButton("Add")
        self.note_button.setAccessibleName("Add note")
        self.note_button.clicked.connect(self._on_note)
        row = QHBoxLayout()
        row.addWidget(self.note_edit, 1)
        row.addWidget(self.note_button)
        return row

    @property
    def lead(self) -> LeadDetail | None:
        return self._lead

    def set_lead(self, lead: LeadDetail | None, me: Me | None) -> None:
        self._lead, self._me = lead, me
        self.setEnabled(lead is not None)
        self.integrations.set_lead(lead)
        _clear(self.notes_box)
        _clear(self.activity_box)
        self.assignee.clear()
        if lead is None:
            for caption in FIELDS:
                self.info.setRowVisible(self._rows[caption], False)
            self.texted_in.setVisible(False)
            return
        self._show_pipeline(lead, me)
        self._show_submitted(lead)
        self._show_notes(lead)
        self._show_activity(lead)

    def _show_pipeline(self, lead: LeadDetail, me: Me | None) -> None:
        self.pipeline.setCurrentIndex(
            PIPELINE_ORDER.index(lead.pipeline_status)
            if lead.pipeline_status in PIPELINE_ORDER
            else 0
        )
        self._fill_assignees(lead, me, [])
        self.colleaguesWanted.emit(lead)  # the colleagues follow (set_colleagues)
        self.saving.setVisible(lead.pending_update)
        closed = lead.status == "CLOSED"
        self.close_button.setVisible(not closed)
        self.follow_up_button.setVisible(closed and not lead.opted_out)
        self.opt_out_button.setVisible(not lead.opted_out and lead.conversation_sid is not None)

    def _show_submitted(self, lead: LeadDetail) -> None:
        texted_in = lead.source == TEXTED_IN
        self.texted_in.setVisible(texted_in)
        rows: list[tuple[str, str]] = [
            ("Name", lead.name),
            ("Phone", fmt.format_phone(lead.phone)),
            ("Prefers", "Text" if lead.preferred_contact == "text" else "Phone call"),
            ("Message", lead.customer_message or "—"),
        ]
        if lead.page_url or not texted_in:  # a text has no page
            rows.append(("Page", lead.page_url or "—"))
        if lead.product:
            rows.append(("Product", " · ".join(v for v in lead.product.values() if v)))
        if lead.traffic:
            rows.append(("Source", " / ".join(v for v in lead.traffic.values() if v)))
        rows.append(("Location", lead.location_name or lead.location_id))
        rows.append(
            (
                "Submitted",
                f"{fmt.day_label(fmt.local(lead.date_submitted).date())}, "
                f"{fmt.clock(lead.date_submitted)}",
            )
        )
        if lead.status == "CLOSED":
            rows.append(("Closed", lead.close_reason or "Closed"))
        shown = dict(rows)
        for caption in FIELDS:
            value_label = self._values[caption]
            value_label.setText(shown.get(caption, ""))
            value_label.setAccessibleName(shown.get(caption, ""))
            self.info.setRowVisible(self._rows[caption], caption in shown)

    def _show_notes(self, lead: LeadDetail) -> None:
        if not lead.notes:
            empty = QLabel("No notes yet.")
            empty.setObjectName("Muted")
            self.notes_box.addWidget(empty)
        for note in lead.notes:
            text = (
                f"{note.author_name} · {fmt.relative_time(note.at)}"
                + (" · saving…" if note.pending else "")
                + f"\n{note.body}"
            )
            label = _wrapping(plain_label(text))
            label.setAccessibleName(f"Note by {note.author_name}: {note.body}")
            self.notes_box.addWidget(label)

    def _show_activity(self, lead: LeadDetail) -> None:
        for item in sorted(lead.activity, key=lambda a: a.at, reverse=True)[:50]:
            label = _wrapping(plain_label(f"{fmt.relative_time(item.at)} · {item.text}"))
            label.setObjectName("Muted")
            label.setAccessibleName(item.text)
            self.activity_box.addWidget(label)

    def _on_pipeline(self, i: int) -> None:
        if self._lead is not None:
            status = self.pipeline.itemData(i)
            if status != self._lead.pipeline_status:
                self.statusChosen.emit(self._lead.lead_id, status)

    def _on_assignee(self, i: int) -> None:
        if self._lead is not None:
            staff = self.assignee.itemData(i)
            if staff != self._lead.assignee_id:
                self.assigneeChosen.emit(self._lead.lead_id, staff)

    def _on_note(self) -> None:
        text = self.note_edit.text().strip()
        if self._lead is not None and text:
            self.noteAdded.emit(self._lead.lead_id, text)
            self.note_edit.clear()


def _clear(layout: QVBoxLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()

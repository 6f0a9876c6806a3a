"""Dialogs of the staff actions: a reason (closing a lead, recording an opt-out) and a
new conversation (location, name, phone formatted and checked as typed, note).

Both are opened with `open()` (window-modal, not a nested event loop) and answer
through a signal; what the customer's name and phone show is plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.phones import format_as_typed, phone_problem
from app.sync.api import LocationRow, NewConversation
from app.ui.dialogs import keyboard_ready
from app.ui.plain import plain_label

#: the relay's limit for a reason (`app.core.wire_staff.MAX_REASON_LENGTH`)
MAX_REASON = 500

CLOSE_REASONS = (
    "Bought from us",
    "Bought elsewhere",
    "Not interested any more",
    "Could not reach them",
    "Duplicate lead",
)
OPT_OUT_REASONS = (
    "Asked us by phone not to text",
    "Asked in the store not to text",
    "Asked by text not to be texted",
)


class ReasonDialog(QDialog):
    """Asks why (presets or typed), then answers `reasonGiven(reason)`."""

    reasonGiven = Signal(str)

    def __init__(
        self,
        title: str,
        prompt: str,
        action: str,
        presets: Sequence[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.prompt = plain_label(prompt)
        self.prompt.setWordWrap(True)
        self.reason = QComboBox()
        self.reason.setEditable(True)
        self.reason.addItems(list(presets))
        self.reason.setAccessibleName("Reason")
        self.reason.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.reason.lineEdit()
        if line is not None:
            line.setMaxLength(MAX_REASON)
            line.returnPressed.connect(self._accept)  # the combo keeps Enter to itself
        self.ok_button = QPushButton(action)
        self.ok_button.setAccessibleName(action)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self.ok_button.clicked.connect(self._accept)
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        form = QFormLayout()
        form.addRow("&Reason", self.reason)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.ok_button)
        layout.addLayout(buttons)
        keyboard_ready(self, title.lower(), default=self.ok_button)
        self.reason.setFocus()

    def _accept(self) -> None:
        text = self.reason.currentText().strip()
        if not text:
            self.reason.setFocus()
            return
        self.accept()
        self.reasonGiven.emit(text)


class NewConversationDialog(QDialog):
    """Start a conversation: answers `submitted(NewConversation)`; the phone number is
    formatted as it is typed and the Start button waits for a textable number."""

    submitted = Signal(object)  # NewConversation

    def __init__(
        self,
        locations: Sequence[LocationRow],
        parent: QWidget | None = None,
        *,
        location_id: str | None = None,
        name: str = "",
        phone: str = "",
        title: str = "New conversation",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.location = QComboBox()
        self.location.setAccessibleName("Location")
        for loc in locations:
            self.location.addItem(loc.name, loc.location_id)
        if location_id is not None:
            self.location.setCurrentIndex(max(0, self.location.findData(location_id)))
        self.name_edit = QLineEdit(name)
        self.name_edit.setAccessibleName("Customer name")
        self.phone_edit = QLineEdit()
        self.phone_edit.setAccessibleName("Customer phone")
        self.phone_edit.setPlaceholderText("(312) 555-0134")
        self.problem = QLabel()
        self.problem.setObjectName("Muted")
        self.problem.setAccessibleName("Phone problem")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setAccessibleName("Note for the team")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setFixedHeight(70)
        self.start_button = QPushButton("Start conversation")
        self.start_button.setAccessibleName("Start conversation")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self._build()
        self.phone_edit.textEdited.connect(self._on_phone)
        self.name_edit.textChanged.connect(lambda _t: self._check())
        self.start_button.clicked.connect(self._submit)
        self.cancel_button.clicked.connect(self.reject)
        keyboard_ready(self, "the new conversation", default=self.start_button)
        if phone:
            self._on_phone(phone)
        self._check()
        (self.phone_edit if name else self.name_edit).setFocus()

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("&Location", self.location)
        form.addRow("&Name", self.name_edit)
        form.addRow("&Phone", self.phone_edit)
        form.addRow("", self.problem)
        form.addRow("N&ote (optional)", self.note_edit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        hint = QLabel("Nothing is texted until you send the first message.")
        hint.setObjectName("Muted")
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addLayout(buttons)

    def _on_phone(self, text: str) -> None:
        shown = format_as_typed(text) or text.strip()
        if shown != self.phone_edit.text():
            self.phone_edit.setText(shown)
        self._check()

    def _check(self) -> bool:
        phone = self.phone_edit.text()
        problem = phone_problem(phone) if phone.strip() else None
        self.problem.setText(problem or "")
        self.problem.setVisible(problem is not None)
        ok = (
            problem is None
            and bool(phone.strip())
            and bool(self.name_edit.text().strip())
            and self.location.currentData() is not None
        )
        self.start_button.setEnabled(ok)
        return ok

    def _submit(self) -> None:
        if not self._check():
            return
        note = self.note_edit.toPlainText().strip() or None
        new = NewConversation(
            location_id=str(self.location.currentData()),
            name=self.name_edit.text().strip(),
            phone=self.phone_edit.text(),
            note=note,
        )
        self.accept()
        self.submitted.emit(new)

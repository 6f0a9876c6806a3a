"""The settings dialog: this PC's reply templates (the dealership's shared ones are
opened from here: `shared_templates_dialog`) and the kiosk idle lock."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.dialogs import keyboard_ready
from app.ui.plain import plain_label
from app.ui.settings import Settings, Template

#: what the kiosk lock offers (a setting saved with another value is offered too)
IDLE_LOCK_CHOICES = (1, 2, 5, 10, 15, 30, 60, 120, 240)


def _minutes_label(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} min"


class SettingsDialog(QDialog):
    """Templates (name + body with merge fields) and the kiosk idle lock."""

    saved = Signal(object)  # Settings
    sharedTemplatesRequested = Signal()

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        reply_targets: Sequence[tuple[str, int]] = (),
    ) -> None:
        """`reply_targets`: (location name, minutes) of the staff member's locations."""
        super().__init__(parent)
        self.setWindowTitle("Settings — Web2Text")
        self.setMinimumSize(620, 420)
        self._templates = list(settings.templates)
        self._settings = settings
        self.error = plain_label()  # it names a template as typed
        self.error.setObjectName("Banner")
        self.error.setProperty("kind", "danger")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Template error")
        self.error.hide()
        kiosk = QFormLayout()
        kiosk.addRow("Kiosk: lock after", self._idle_choice(settings.idle_lock_minutes))
        self.reply_target = plain_label()  # location names
        self.reply_target.setAccessibleName("Reply target")
        self.reply_target.setWordWrap(True)
        self.reply_target.setText(
            " · ".join(f"{name}: {minutes} min" for name, minutes in reply_targets)
            + "  (set by the dealership; past it, a waiting lead notifies and shows under "
            "Needs reply)"
            if reply_targets
            else "5 min (the default; past it, a waiting lead notifies and shows under "
            "Needs reply)"
        )
        kiosk.addRow("Reply target", self.reply_target)
        from app.ui.autostart_option import AutostartOption

        self.autostart = AutostartOption()
        kiosk.addRow("", self.autostart)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(12)
        title = QLabel("Message templates")
        title.setObjectName("HeaderTitle")
        layout.addWidget(title)
        layout.addLayout(self._templates_editor(), 1)
        layout.addWidget(self.error)
        layout.addLayout(kiosk)
        layout.addLayout(self._buttons())
        self._reload_list(0)
        self.shortcut_hint = keyboard_ready(self, "Settings", default=self.save_button)
        self.list.setFocus()

    def _templates_editor(self) -> QHBoxLayout:
        """The templates on the left, the chosen one's name and text on the right."""
        self.list = QListWidget()
        self.list.setAccessibleName("Templates")
        self.list.currentRowChanged.connect(self._show)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Template name")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setAccessibleName("Template text")
        self.name_edit.textEdited.connect(self._store)
        self.body_edit.textChanged.connect(self._store)
        from app.core.templates import MERGE_FIELDS  # the dialog's, not start-up's

        fields = QLabel("Merge fields: " + "  ".join("{" + f + "}" for f in MERGE_FIELDS))
        fields.setObjectName("Muted")
        fields.setWordWrap(True)
        fields.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_button = QPushButton("New template")
        self.add_button.clicked.connect(self._add)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        lb = QHBoxLayout()
        lb.addWidget(self.add_button)
        lb.addWidget(self.delete_button)
        left.addLayout(lb)
        right = QFormLayout()
        right.addRow("Name", self.name_edit)
        right.addRow("Text", self.body_edit)
        right.addRow("", fields)
        top = QHBoxLayout()
        top.addLayout(left, 2)
        top.addLayout(right, 3)
        return top

    def _idle_choice(self, current: int) -> QComboBox:
        # A list of choices rather than a spin box: under the app's style sheet Qt
        # draws a spin box's step buttons as empty slivers (and its text not at all
        # without them).
        self.idle = QComboBox()
        minutes = sorted({*IDLE_LOCK_CHOICES, current})
        for m in minutes:
            self.idle.addItem(_minutes_label(m), m)
        self.idle.setCurrentIndex(minutes.index(current))
        self.idle.setAccessibleName("Lock after idle minutes")
        return self.idle

    def _buttons(self) -> QHBoxLayout:
        save = self.save_button = QPushButton("Save")
        save.setObjectName("Primary")
        save.setAccessibleName("Save settings")
        save.clicked.connect(self._save)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        shared = self.shared_button = QPushButton("Shared templates…")
        shared.setAccessibleName("Shared templates of the dealership")
        shared.setToolTip("Templates every staff member of a location sees")
        shared.clicked.connect(self.sharedTemplatesRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(shared)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(save)
        return buttons

    def _reload_list(self, select: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for t in self._templates:
            QListWidgetItem(t.name or "(untitled)", self.list)
        self.list.blockSignals(False)
        if self._templates:
            self.list.setCurrentRow(min(select, len(self._templates) - 1))
        self._show(self.list.currentRow())

    def _show(self, row: int) -> None:
        has = 0 <= row < len(self._templates)
        self.name_edit.setEnabled(has)
        self.body_edit.setEnabled(has)
        self.delete_button.setEnabled(has)
        self.name_edit.blockSignals(True)
        self.body_edit.blockSignals(True)
        self.name_edit.setText(self._templates[row].name if has else "")
        self.body_edit.setPlainText(self._templates[row].body if has else "")
        self.name_edit.blockSignals(False)
        self.body_edit.blockSignals(False)

    def _store(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._templates):
            self._templates[row] = Template(self.name_edit.text(), self.body_edit.toPlainText())
            item = self.list.item(row)
            if item is not None:
                item.setText(self.name_edit.text() or "(untitled)")

    def _add(self) -> None:
        self._templates.append(Template("New template", "Hi {first_name}, "))
        self._reload_list(len(self._templates) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _delete(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._templates):
            del self._templates[row]
            self._reload_list(row)

    def _save(self) -> None:
        from app.core.templates import TemplateError, fields

        for i, t in enumerate(self._templates):
            try:
                fields(t.body)
            except TemplateError as exc:
                self.list.setCurrentRow(i)
                self.error.setText(f"“{t.name}” can't be saved: {exc}")
                self.error.show()
                return
        self._settings.templates = [t for t in self._templates if t.name.strip() and t.body.strip()]
        self._settings.idle_lock_minutes = int(self.idle.currentData())
        problem = self.autostart.apply()
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        self.saved.emit(self._settings)
        self.accept()

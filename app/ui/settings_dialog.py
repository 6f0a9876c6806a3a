"""The settings dialog: this PC's reply templates (the dealership's shared ones are
opened from here: `shared_templates_dialog`) and the kiosk idle lock."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.dialogs import keyboard_ready
from app.ui.plain import plain_label
from app.ui.settings import Settings, Template
from app.ui.template_editor import TemplateListEditor

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
        layout.addWidget(self._templates_editor(), 1)
        layout.addWidget(self.error)
        layout.addLayout(kiosk)
        layout.addLayout(self._buttons())
        self.shortcut_hint = keyboard_ready(self, "Settings", default=self.save_button)
        self.list.setFocus()

    def _templates_editor(self) -> TemplateListEditor[Template]:
        """The templates on the left, the chosen one's name and text on the right."""
        self.editor = TemplateListEditor(
            "Templates",
            new=lambda: Template("New template", "Hi {first_name}, "),
            edited=lambda _old, name, body: Template(name, body),
            merge_fields_hint=True,
        )
        self.editor.set_items(self._settings.templates)
        # the editor's parts, as the dialog's: what tests and shortcuts reach
        self.list, self.name_edit, self.body_edit = (
            self.editor.list, self.editor.name_edit, self.editor.body_edit)
        self.add_button, self.delete_button = self.editor.add_button, self.editor.delete_button
        return self.editor

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

    def _save(self) -> None:
        problem = self.editor.first_invalid()
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        self._settings.templates = self.editor.kept()
        self._settings.idle_lock_minutes = int(self.idle.currentData())
        problem = self.autostart.apply()
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        self.saved.emit(self._settings)
        self.accept()

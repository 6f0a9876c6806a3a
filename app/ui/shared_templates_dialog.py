"""Editing the templates a dealership shares per location (`GET/PUT /v1/templates`).

The dialog edits one location's list at a time, as the engine last got it from the
feed; saving is version-checked: when a colleague saved first, the dialog shows
their list (what the engine now holds) and says so, and nothing is overwritten.
Personal templates stay in Settings, on this PC.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.sync.api import Engine, EngineError, SharedTemplate, SharedTemplates
from app.ui import fmt
from app.ui.dialogs import keyboard_ready
from app.ui.plain import plain_label
from app.ui.tasks import Tasks
from app.ui.template_editor import TemplateListEditor


class SharedTemplatesDialog(QDialog):
    saved = Signal(object)  # SharedTemplates

    def __init__(
        self,
        engine: Engine,
        locations: Sequence[tuple[str, str]],
        parent: QWidget | None = None,
        *,
        location_id: str | None = None,
    ) -> None:
        """`locations`: (id, name) of the staff member's locations."""
        super().__init__(parent)
        self.setWindowTitle("Shared templates — Web2Text")
        self.setAccessibleName("Shared templates")
        self.setMinimumSize(620, 420)
        self._engine = engine
        self.tasks = Tasks("shared-templates")
        self.current = SharedTemplates("")
        self.location = QComboBox()
        self.location.setAccessibleName("Location")
        for ident, name in locations:
            self.location.addItem(name, ident)
        if location_id is not None and self.location.findData(location_id) >= 0:
            self.location.setCurrentIndex(self.location.findData(location_id))
        self.location.currentIndexChanged.connect(lambda _i: self.load())
        self.info = plain_label()  # names who saved last
        self.info.setObjectName("Muted")
        self.info.setAccessibleName("Shared templates version")
        self.message = plain_label()
        self.message.setObjectName("Banner")
        self.message.setProperty("kind", "warning")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Shared templates message")
        self.message.hide()
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Location", self.location)
        layout.addLayout(form)
        layout.addWidget(self.info)
        layout.addWidget(self._editor(), 1)
        layout.addWidget(self.message)
        layout.addLayout(self._buttons())
        keyboard_ready(self, "Shared templates", default=self.save_button)
        self.load()

    def _editor(self) -> TemplateListEditor[SharedTemplate]:
        self.editor = TemplateListEditor(
            "Shared templates list",
            new=lambda: SharedTemplate(None, "New template", "Hi {first_name}, "),
            edited=lambda old, name, body: SharedTemplate(old.template_id, name, body),
            merge_fields_hint=True,
        )
        # the editor's parts, as the dialog's: what tests and shortcuts reach
        self.list, self.name_edit, self.body_edit = (
            self.editor.list, self.editor.name_edit, self.editor.body_edit)
        self.add_button, self.delete_button = self.editor.add_button, self.editor.delete_button
        return self.editor

    def _buttons(self) -> QHBoxLayout:
        self.save_button = QPushButton("Save for everyone")
        self.save_button.setObjectName("Primary")
        self.save_button.setAccessibleName("Save shared templates")
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.save_button)
        return buttons

    # ------------------------------------------------------------------ loading

    @property
    def location_id(self) -> str:
        return str(self.location.currentData() or "")

    def load(self) -> None:
        self.tasks.spawn(self._load(self.location_id))

    async def _load(self, location_id: str) -> None:
        shown = await self._engine.shared_templates(location_id)
        if location_id == self.location_id:
            self._set(shown)

    def _set(self, shown: SharedTemplates) -> None:
        self.current = shown
        if shown.version == 0:
            self.info.setText("No shared templates saved for this location yet.")
        else:
            by = f" by {shown.updated_by}" if shown.updated_by else ""
            at = f", {fmt.relative_time(shown.updated_at)}" if shown.updated_at else ""
            self.info.setText(f"Version {shown.version}, saved{by}{at}.")
        self.editor.set_items(shown.templates)

    # ------------------------------------------------------------------ saving

    def save(self) -> None:
        problem = self.editor.first_invalid()
        if problem:
            self._say(problem)
            return
        kept = self.editor.kept()
        self.save_button.setEnabled(False)
        self.tasks.spawn(self._save(self.location_id, kept, self.current.version))

    async def _save(self, location_id: str, items: list[SharedTemplate], version: int) -> None:
        try:
            saved = await self._engine.save_shared_templates(location_id, items, version)
        except EngineError as exc:
            await self._refused(location_id, exc)
            return
        finally:
            self.save_button.setEnabled(True)
        self._set(saved)
        self._say("Saved: every desktop of this location gets them.")
        self.saved.emit(saved)

    async def _refused(self, location_id: str, exc: EngineError) -> None:
        if exc.reason != "version_conflict":
            self._say(f"Not saved: {exc.message}")
            return
        now = await self._engine.shared_templates(location_id)
        who = now.updated_by or "a colleague"
        self._set(now)
        self._say(
            f"Not saved: {who} saved the shared templates meanwhile. Their version is "
            "shown now; make your change again."
        )

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def done(self, result: int) -> None:
        self.tasks.cancel_pending()
        super().done(result)


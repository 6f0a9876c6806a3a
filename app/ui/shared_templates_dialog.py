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
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.sync.api import Engine, EngineError, SharedTemplate, SharedTemplates
from app.ui import fmt
from app.ui.dialogs import keyboard_ready
from app.ui.plain import plain_label
from app.ui.tasks import Tasks


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
        self._items: list[SharedTemplate] = []
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
        layout.addLayout(self._editor(), 1)
        layout.addWidget(self.message)
        layout.addLayout(self._buttons())
        keyboard_ready(self, "Shared templates", default=self.save_button)
        self.load()

    def _editor(self) -> QHBoxLayout:
        self.list = QListWidget()
        self.list.setAccessibleName("Shared templates list")
        self.list.currentRowChanged.connect(self._show)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Template name")
        self.name_edit.textEdited.connect(self._store)
        self.body_edit = QPlainTextEdit()
        self.body_edit.setAccessibleName("Template text")
        self.body_edit.textChanged.connect(self._store)
        self.add_button = QPushButton("New template")
        self.add_button.clicked.connect(self._add)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.delete_button)
        left.addLayout(row)
        right = QFormLayout()
        right.addRow("Name", self.name_edit)
        right.addRow("Text", self.body_edit)
        top = QHBoxLayout()
        top.addLayout(left, 2)
        top.addLayout(right, 3)
        return top

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
        self._items = list(shown.templates)
        if shown.version == 0:
            self.info.setText("No shared templates saved for this location yet.")
        else:
            by = f" by {shown.updated_by}" if shown.updated_by else ""
            at = f", {fmt.relative_time(shown.updated_at)}" if shown.updated_at else ""
            self.info.setText(f"Version {shown.version}, saved{by}{at}.")
        self._reload_list(0)

    def _reload_list(self, select: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for t in self._items:
            QListWidgetItem(t.name or "(untitled)", self.list)
        self.list.blockSignals(False)
        if self._items:
            self.list.setCurrentRow(min(select, len(self._items) - 1))
        self._show(self.list.currentRow())

    def _show(self, row: int) -> None:
        has = 0 <= row < len(self._items)
        for w in (self.name_edit, self.body_edit, self.delete_button):
            w.setEnabled(has)
        self.name_edit.blockSignals(True)
        self.body_edit.blockSignals(True)
        self.name_edit.setText(self._items[row].name if has else "")
        self.body_edit.setPlainText(self._items[row].body if has else "")
        self.name_edit.blockSignals(False)
        self.body_edit.blockSignals(False)

    # ------------------------------------------------------------------ editing

    def _store(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._items):
            old = self._items[row]
            name = self.name_edit.text()
            self._items[row] = SharedTemplate(old.template_id, name, self.body_edit.toPlainText())
            item = self.list.item(row)
            if item is not None:
                item.setText(name or "(untitled)")

    def _add(self) -> None:
        self._items.append(SharedTemplate(None, "New template", "Hi {first_name}, "))
        self._reload_list(len(self._items) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _delete(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._items):
            del self._items[row]
            self._reload_list(row)

    # ------------------------------------------------------------------ saving

    def save(self) -> None:
        from app.core.templates import TemplateError, fields

        for i, t in enumerate(self._items):
            try:
                fields(t.body)
            except TemplateError as exc:
                self.list.setCurrentRow(i)
                self._say(f"“{t.name}” can't be saved: {exc}")
                return
        kept = [t for t in self._items if t.name.strip() and t.body.strip()]
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


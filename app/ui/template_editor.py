"""The list of reply templates and the chosen one's name and text, as the personal
templates (Settings) and the dealership's shared ones (SharedTemplatesDialog) are
edited: one editor, whatever the dialog does with the list when it is saved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
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


class Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def body(self) -> str: ...


T = TypeVar("T", bound=Named)


class TemplateListEditor(QWidget, Generic[T]):
    """Templates on the left (New, Delete), the chosen one's name and text on the
    right; `edited(item, name, body)` makes the edited copy of an item."""

    def __init__(
        self,
        list_name: str,
        new: Callable[[], T],
        edited: Callable[[T, str, str], T],
        parent: QWidget | None = None,
        *,
        merge_fields_hint: bool = False,
    ) -> None:
        super().__init__(parent)
        self._new, self._edited = new, edited
        self._items: list[T] = []
        self.list = QListWidget()
        self.list.setAccessibleName(list_name)
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
        self._lay_out(merge_fields_hint)

    def _lay_out(self, merge_fields_hint: bool) -> None:
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.delete_button)
        left.addLayout(buttons)
        right = QFormLayout()
        right.addRow("Name", self.name_edit)
        right.addRow("Text", self.body_edit)
        if merge_fields_hint:
            right.addRow("", _merge_fields_label())
        top = QHBoxLayout(self)
        top.setContentsMargins(0, 0, 0, 0)
        top.addLayout(left, 2)
        top.addLayout(right, 3)

    # ------------------------------------------------------------------ the list

    @property
    def items(self) -> list[T]:
        return list(self._items)

    def kept(self) -> list[T]:
        """The templates worth saving: a name and a text (blank ones are dropped)."""
        return [t for t in self._items if t.name.strip() and t.body.strip()]

    def set_items(self, items: Sequence[T], select: int = 0) -> None:
        self._items = list(items)
        self._reload_list(select)

    def first_invalid(self) -> str | None:
        """Selects the first template whose merge fields are wrong and says why."""
        from app.core.templates import TemplateError, fields  # the dialog's, not start-up's

        for i, t in enumerate(self._items):
            try:
                fields(t.body)
            except TemplateError as exc:
                self.list.setCurrentRow(i)
                return f"“{t.name}” can't be saved: {exc}"
        return None

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
            name = self.name_edit.text()
            self._items[row] = self._edited(self._items[row], name, self.body_edit.toPlainText())
            item = self.list.item(row)
            if item is not None:
                item.setText(name or "(untitled)")

    def _add(self) -> None:
        self._items.append(self._new())
        self._reload_list(len(self._items) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _delete(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._items):
            del self._items[row]
            self._reload_list(row)


def _merge_fields_label() -> QLabel:
    from app.core.templates import MERGE_FIELDS

    label = QLabel("Merge fields: " + "  ".join("{" + f + "}" for f in MERGE_FIELDS))
    label.setObjectName("Muted")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label

"""Ctrl+K: a popup that finds a lead by name or phone as you type."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QListView, QVBoxLayout, QWidget

from app.sync.api import Engine
from app.ui.lead_delegate import LeadDelegate
from app.ui.leads_model import LeadsModel
from app.ui.tasks import Tasks


class JumpDialog(QWidget):
    """Type a name or phone, Enter opens the lead."""

    chosen = Signal(str)  # lead_id

    def __init__(self, window: QWidget, tasks: Tasks) -> None:
        super().__init__(window, Qt.WindowType.Popup)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._window = window
        self.model = LeadsModel(tasks, self)
        self.model.PAGE = 8
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Jump to a lead: name or phone…")
        self.edit.setAccessibleName("Jump to lead")
        self.list = QListView()
        self.list.setAccessibleName("Matching leads")
        self.list.setModel(self.model)
        self.list.setItemDelegate(LeadDelegate(self.list))
        self.list.setFixedHeight(LeadDelegate.HEIGHT * 4 + 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.setFixedWidth(460)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self._search)
        self.edit.textChanged.connect(lambda _t: self._timer.start())
        self.edit.returnPressed.connect(self._choose)
        self.list.activated.connect(lambda _i: self._choose())
        self.model.loaded.connect(self._select_first)
        self._choose_when_found = False  # Enter came before the typed text's answer

    def popup(self, engine: Engine | None) -> None:
        self._choose_when_found = False
        self.model.set_engine(engine)
        self.edit.clear()
        geo = self._window.geometry()
        self.move(geo.x() + (geo.width() - self.width()) // 2, geo.y() + 80)
        self.show()
        self.edit.setFocus()

    def _query(self) -> str | None:
        return self.edit.text().strip() or None

    def _search(self) -> None:
        self._timer.stop()
        self.model.update_filter(query=self._query())

    def _found(self) -> bool:
        """The rows shown answer the text as typed now."""
        shown = self.model.shown_filter
        return (
            not self._timer.isActive()
            and shown is not None
            and shown.query == self._query()
            and self.model.filter == shown
        )

    def _select_first(self) -> None:
        if self.model.rowCount():
            self.list.setCurrentIndex(self.model.index(0))
        if self._choose_when_found and self._found():
            self._choose_when_found = False
            self._choose()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            row = self.list.currentIndex().row() + (1 if event.key() == Qt.Key.Key_Down else -1)
            if 0 <= row < self.model.rowCount():
                self.list.setCurrentIndex(self.model.index(row))
            return
        super().keyPressEvent(event)

    def _choose(self) -> None:
        """Enter: the lead selected, once the rows answer what was typed (typed fast,
        Enter must not open the previous text's first match)."""
        if not self._found():
            self._choose_when_found = True
            if self._timer.isActive() or self.model.filter.query != self._query():
                self._search()
            return
        row = self.model.row_at(self.list.currentIndex().row())
        if row is not None:
            self.hide()
            self.chosen.emit(row.lead_id)

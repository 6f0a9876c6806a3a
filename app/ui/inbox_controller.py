"""The inbox pane's controller: the leads list, its filters and locations, and search."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    Signal,
    SignalInstance,
)
from PySide6.QtGui import QKeyEvent

from app.sync.api import ChangesApplied, Engine, LeadRow
from app.ui import fmt
from app.ui.bridge import BridgeSlots, EngineBridge
from app.ui.leads_model import LeadsModel
from app.ui.roles import ROW_ROLE
from app.ui.search_model import SearchModel
from app.ui.sidebar import Sidebar
from app.ui.tasks import Tasks


class InboxController(QObject):
    """Owns the inbox's models (`LeadsModel`, `SearchModel`) and the sidebar's filters.

    Every engine change may move a row, so each one reloads the list (coalesced by
    the model), the locations' unread counts (soon after) and a search on screen.
    While the pointer is over the list or the list has the keyboard, its rows hold
    still (`LeadsModel.set_held`); the "3 new" pill, Home, or the pointer or the
    keyboard leaving bring the new order in.
    """

    leadChosen = Signal(str)  # lead_id: the user moved to a row (arrow keys) or a hit
    leadEntered = Signal(str)  # lead_id: Enter (or a double-click) on a row or a hit
    leadClicked = Signal(str)  # lead_id: a row clicked

    #: the locations' unread counts follow a burst of changes at most this often
    LOCATIONS_COALESCE_MS = 250
    #: a search runs this long after the last keystroke
    SEARCH_DELAY_MS = 120
    #: the locations' first load waits this long after the first rows
    FIRST_LOCATIONS_DELAY_MS = 100

    def __init__(self, view: Sidebar, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.model = LeadsModel(tasks, self)
        self.search_model = SearchModel(tasks, self)
        self._tasks = tasks
        self._engine: Engine | None = None
        self._events = BridgeSlots(lambda b: [(b.changesApplied, self._on_changes)])
        #: the staff member's locations (a switch of profile drops the others)
        self.location_names: dict[str, str] = {}
        self.location_timezones: dict[str, str | None] = {}
        self.location_hours: dict[str, str | None] = {}
        #: each location's reply target in minutes (escalation; shown in Settings)
        self.reply_targets: dict[str, int] = {}
        self._open_lead: str | None = None  # kept selected across reloads
        self._pointer_over = False
        self._home_after_load = False  # Home let the new order in: go to its first row
        self._locations_after_rows = False
        #: a location list read is running; one asked for meanwhile follows it
        self._locations_loading = False
        self._locations_again = False
        self._search_timer = _single_shot(self, self.SEARCH_DELAY_MS, self._run_search)
        self._locations_timer = _single_shot(
            self, self.LOCATIONS_COALESCE_MS, self.reload_locations
        )
        # (a moment after the first rows: its query would queue in front of their paint)
        self._first_locations_timer = _single_shot(
            self, self.FIRST_LOCATIONS_DELAY_MS, self.reload_locations
        )
        view.show_models(self.model, self.search_model)
        self._connect_view()

    def _connect_view(self) -> None:
        v = self.view
        v.location.activated.connect(self._on_location)
        v.search.textChanged.connect(self._on_search_text)
        for chip in v.chips:
            chip.toggled.connect(self._apply_filters)
        v.status_filter.activated.connect(self._apply_filters)
        # a row selected (arrow keys, a click), not merely current: the view makes its
        # first row current, unselected, whenever it gets the keyboard with none
        v.leads_view.selectionModel().selectionChanged.connect(self._on_selected)
        v.leads_view.activated.connect(lambda i: self._emit_row(self.leadEntered, i))
        v.leads_view.clicked.connect(lambda i: self._emit_row(self.leadClicked, i))
        v.leads_view.installEventFilter(self)
        v.search.installEventFilter(self)
        v.search.returnPressed.connect(self.focus_list)
        v.new_pill.clicked.connect(self.model.apply_new_order)
        self.model.heldChanged.connect(v.new_pill.show_count)
        v.hitActivated.connect(self._open_hit)
        v.hitEntered.connect(lambda i: self._emit_row(self.leadEntered, i))
        self.model.loaded.connect(self._on_loaded)
        self.model.countChanged.connect(self._on_count)
        self.search_model.searched.connect(self._on_searched)

    # ------------------------------------------------------------------ engine

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        self._engine = engine
        self._events.attach(bridge)
        self._open_lead = None
        # nothing scheduled for the previous engine runs for the next one (or none)
        for timer in (self._search_timer, self._locations_timer, self._first_locations_timer):
            timer.stop()
        self._locations_loading = self._locations_again = False
        self.model.set_engine(engine)
        self.search_model.set_engine(engine)
        # the first page of the inbox goes first; the location counts (a sum over
        # every conversation) follow once it is painted
        self._locations_after_rows = engine is not None

    def show_cached(self, rows: Sequence[LeadRow], total: int) -> None:
        """The inbox read from the local store at start-up, until the engine's first answer."""
        self.model.show_cached(rows, total)

    def _on_changes(self, _ev: ChangesApplied) -> None:
        self.model.reload()
        if not self._locations_timer.isActive():
            self._locations_timer.start()
        if self.search_model.query:
            self._search_timer.start()

    # ------------------------------------------------------------------ rows

    def row(self, lead_id: str) -> LeadRow | None:
        return self.model.row_at(self.model.index_of(lead_id))

    def show_open(self, lead_id: str) -> None:
        """The lead now open in the window: its row is selected (and stays selected
        across reloads) without opening it again."""
        self._open_lead = lead_id
        row = self.model.index_of(lead_id)
        view = self.view.leads_view
        if row >= 0 and view.currentIndex().row() != row:
            sm = view.selectionModel()
            sm.blockSignals(True)
            view.setCurrentIndex(self.model.index(row))
            sm.blockSignals(False)
            view.viewport().update()

    def _on_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_hold()
        indexes = selected.indexes()
        row = indexes[0].data(ROW_ROLE) if indexes else None
        if row is not None and row.lead_id != self._open_lead:
            self.leadChosen.emit(row.lead_id)

    @staticmethod
    def _emit_row(signal: SignalInstance, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if row is not None and row.lead_id:
            signal.emit(row.lead_id)

    # ------------------------------------------------------------------ holding still

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if QCoreApplication.closingDown():  # focus moves as the widgets are destroyed
            return False
        kind = event.type()
        if watched is self.view.search:
            down = isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Down
            if kind == QEvent.Type.KeyPress and down:
                self.focus_list()
                return True
            return False
        if kind == QEvent.Type.Enter:
            self._pointer_over = True
        elif kind == QEvent.Type.Leave:
            self._pointer_over = False
        elif kind not in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            if kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
                return self._on_list_key(event)
            return False
        self._update_hold()  # (Qt moves the focus before it sends FocusIn/FocusOut)
        return False

    def _update_hold(self) -> None:
        """Held while the pointer is over the list or one of its rows has the keyboard."""
        view = self.view.leads_view
        current = view.currentIndex()
        keyboard = view.hasFocus() and view.selectionModel().isSelected(current)
        self.model.set_held(self._pointer_over or keyboard)

    def _on_list_key(self, event: QKeyEvent) -> bool:
        """Home in a held list lets the new order in and goes to its first row."""
        if event.key() != Qt.Key.Key_Home or not self.model.held_count:
            return False
        self._home_after_load = True
        self.model.apply_new_order()
        return True

    def _on_loaded(self) -> None:
        if self._locations_after_rows:
            self._locations_after_rows = False
            self._first_locations_timer.start()
        if self._home_after_load and not self.model.held_count:
            self._home_after_load = False
            view = self.view.leads_view
            if self.model.rowCount():
                view.setCurrentIndex(self.model.index(0))
                view.scrollToTop()
                return
        if self._open_lead is None:
            return
        row = self.model.index_of(self._open_lead)
        sm = self.view.leads_view.selectionModel()
        if row >= 0:
            sm.blockSignals(True)
            sm.setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            sm.blockSignals(False)
            self.view.leads_view.viewport().update()

    def _on_count(self, total: int) -> None:
        self.view.count_label.setText(f"{total} lead{'s' if total != 1 else ''}")
        if not self.search_model.query:
            self.view.show_list(self.view.leads_view if total else self.view.no_leads)

    def step(self, delta: int) -> None:
        """Alt+Up/Down: the previous or next row of the list on screen (a search hit opens)."""
        results = self.view.showing_results()
        view = self.view.results_view if results else self.view.leads_view
        model = view.model()
        n = model.rowCount()
        if n == 0:
            return
        row = view.currentIndex().row()
        row = 0 if row < 0 else max(0, min(n - 1, row + delta))
        view.setCurrentIndex(model.index(row, 0))
        if results:
            self._open_hit(model.index(row, 0))

    def tick(self) -> None:
        """Relative times and speed-to-lead timers move on (and with them, which leads
        wait past their target)."""
        self.view.leads_view.viewport().update()
        if self.view.needs_reply_chip.isChecked():
            self._apply_filters()

    # ------------------------------------------------------------------ filters

    def _apply_filters(self) -> None:
        v = self.view
        me = self._engine.me if self._engine else None
        self.model.update_filter(
            location_id=v.location.currentData(),
            unread_only=v.unread_chip.isChecked(),
            mine=v.mine_chip.isChecked() and me is not None,
            unassigned=v.unassigned_chip.isChecked(),
            pipeline_status=v.status_filter.currentData(),
            needs_reply_at=fmt.now_utc() if v.needs_reply_chip.isChecked() else None,
        )

    def _on_location(self, _i: int) -> None:
        self._apply_filters()
        self._show_row_locations()

    def reload_locations(self) -> None:
        # one read at a time: a store slower to count than changes arrive must not
        # queue reads on its reader (thread opens and searches wait behind them)
        if self._locations_loading:
            self._locations_again = True
            return
        self._locations_loading, self._locations_again = True, False
        self._tasks.spawn(self._load_locations(self._engine))

    async def _load_locations(self, engine: Engine | None) -> None:
        try:
            await self._show_locations(engine)
        finally:
            if engine is self._engine:  # (else `set_engine` has reset the flags)
                self._locations_loading = False
                if self._locations_again:
                    self.reload_locations()

    async def _show_locations(self, engine: Engine | None) -> None:
        if engine is None:
            return
        rows = list(await engine.list_locations())
        if engine is not self._engine:
            return
        combo = self.view.location
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        total = sum(r.unread for r in rows)
        combo.addItem(f"All locations{f'  ({total} unread)' if total else ''}", None)
        self.location_timezones = {r.location_id: r.timezone for r in rows}
        self.location_hours = {r.location_id: r.hours for r in rows}
        self.location_names = {r.location_id: r.name for r in rows}
        self.reply_targets = {r.location_id: r.reply_target_minutes for r in rows}
        for r in rows:
            combo.addItem(f"{r.name}{f'  ({r.unread} unread)' if r.unread else ''}", r.location_id)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)
        combo.setEnabled(len(rows) > 1 or combo.currentIndex() != 0)
        self._show_row_locations()

    def _show_row_locations(self) -> None:
        """Rows name their location while the inbox shows several locations."""
        mixed = self.view.location.currentData() is None and len(self.location_names) > 1
        names = fmt.short_location_names(self.location_names) if mixed else {}
        self.model.set_location_names(names)

    # ------------------------------------------------------------------ search

    def focus_search(self) -> None:
        self.view.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.view.search.selectAll()

    def focus_list(self) -> None:
        """Down or Enter in the search box: the keyboard to the list on screen (its
        first row, when none is current)."""
        v = self.view
        view = v.results_view if v.showing_results() else v.leads_view
        if view.model() is None or not view.model().rowCount():
            return
        view.setFocus(Qt.FocusReason.OtherFocusReason)
        if not view.currentIndex().isValid():
            view.setCurrentIndex(view.model().index(0, 0))

    def clear_search(self) -> bool:
        """Esc: clear a search (True), or say there was none (False)."""
        if not self.view.search.text():
            return False
        self.view.search.clear()
        self.view.leads_view.setFocus()
        return True

    def _on_search_text(self, text: str) -> None:
        if not text.strip():
            self._search_timer.stop()
            self.search_model.search("")
            self._on_count(self.model.total)  # the inbox's list and count again
            return
        self._search_timer.start()

    def _run_search(self) -> None:
        self.search_model.search(self.view.search.text())

    def _on_searched(self, _query: str, hits: int) -> None:
        self.view.show_list(self.view.results_view if hits else self.view.no_results)
        self.view.count_label.setText(f"{hits} match{'es' if hits != 1 else ''}")

    def _open_hit(self, index: QModelIndex) -> None:
        hit = index.data(ROW_ROLE)
        if hit is not None and hit.lead_id:
            self.leadChosen.emit(hit.lead_id)


def _single_shot(parent: QObject, ms: int, slot: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer

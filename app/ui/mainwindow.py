"""The main window: locations, inbox, search, conversation, lead panel, status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.sync.api import (
    ChangesApplied,
    Engine,
    EngineError,
    LeadDetail,
    OutboxItemFailed,
    SyncState,
    SyncStatus,
    ThreadMessage,
)
from app.ui import fmt
from app.ui.bridge import EngineBridge
from app.ui.conversation import Banner, ConversationPane, empty_state
from app.ui.lead_delegate import LeadDelegate
from app.ui.models import ROW_ROLE, LeadsModel, SearchModel, ThreadModel
from app.ui.onepass_view import OnePassListView
from app.ui.search_delegate import SearchDelegate
from app.ui.tasks import Tasks

if TYPE_CHECKING:
    from app.ui.leadpanel import LeadPanel
    from app.ui.settings import Template

log = logging.getLogger(__name__)

STATE_TEXT = {
    SyncState.ONLINE: ("Online", "success"),
    SyncState.SYNCING: ("Syncing…", "accent"),
    SyncState.CONNECTING: ("Connecting…", "text_muted"),
    SyncState.OFFLINE: ("Offline", "danger"),
    SyncState.AUTH_REQUIRED: ("Sign-in needed", "danger"),
    SyncState.STOPPED: ("Not connected", "text_muted"),  # before the engine starts, after it stops
}


class JumpDialog(QWidget):
    """Ctrl+K: type a name or phone, Enter opens the lead."""

    chosen = Signal(str)  # lead_id

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window, Qt.WindowType.Popup)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._window = window
        self.model = LeadsModel(window.tasks, self)
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

    def popup(self, engine: Engine | None) -> None:
        self.model.set_engine(engine)
        self.edit.clear()
        geo = self._window.geometry()
        self.move(geo.x() + (geo.width() - self.width()) // 2, geo.y() + 80)
        self.show()
        self.edit.setFocus()

    def _search(self) -> None:
        self.model.update_filter(query=self.edit.text().strip() or None)

    def _select_first(self) -> None:
        if self.model.rowCount():
            self.list.setCurrentIndex(self.model.index(0))

    def keyPressEvent(self, event: object) -> None:
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            row = self.list.currentIndex().row() + (1 if event.key() == Qt.Key.Key_Down else -1)
            if 0 <= row < self.model.rowCount():
                self.list.setCurrentIndex(self.model.index(row))
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    def _choose(self) -> None:
        row = self.model.row_at(self.list.currentIndex().row())
        if row is not None:
            self.hide()
            self.chosen.emit(row.lead_id)


class MainWindow(QMainWindow):
    settingsRequested = Signal()
    switchStaffRequested = Signal()
    lockRequested = Signal()
    closeToTray = Signal()
    closedWithoutTray = Signal()  # no tray to live in: closing the window means quitting

    def __init__(self, *, kiosk: bool = False, tray_available: bool = True) -> None:
        super().__init__()
        self.kiosk = kiosk
        self.tray_available = tray_available
        self.tasks = Tasks("window")
        # a window deleted without the controller's quit (e.g. by its parent) must not
        # have its loads resume into deleted widgets
        self.destroyed.connect(self.tasks.cancel_pending)
        self.engine: Engine | None = None
        self.bridge: EngineBridge | None = None
        self.quitting = False
        self.current: LeadDetail | None = None
        self._status = SyncStatus(SyncState.STOPPED)
        self._templates: list[Template] = []
        self._location_tz: dict[str, str | None] = {}
        self._location_names: dict[str, str] = {}
        self._last_inbound: datetime | None = None
        self._pending_open: str | None = None  # clicked before the engine was there
        self._locations_after_rows = False
        self._jump: JumpDialog | None = None
        self._finished = False  # finish_build() done
        self.on_error: Callable[[str], None] | None = None
        self.setWindowTitle("Web2Text")
        self.resize(1280, 800)
        self.setMinimumSize(900, 560)

        self.leads_model = LeadsModel(self.tasks, self)
        self.search_model = SearchModel(self.tasks, self)
        self.thread_model = ThreadModel(self.tasks, self)
        self._build()
        self._clock = QTimer(self)
        self._clock.setInterval(30_000)  # relative times and speed-to-lead timers tick
        self._clock.timeout.connect(self._tick)
        self._clock.start()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        sidebar = QWidget()
        sidebar.setObjectName("Sidebar")
        sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        sidebar.setMinimumWidth(320)

        self.location = QComboBox()
        self.location.setAccessibleName("Location")
        self.location.addItem("All locations", None)
        self.location.activated.connect(self._on_location)
        self.staff_label = QLabel()
        self.staff_label.setObjectName("Muted")
        self.settings_button = QToolButton()
        self.settings_button.setText("⚙")
        self.settings_button.setToolTip("Settings and templates")
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.clicked.connect(self.settingsRequested)
        self.switch_button = QToolButton()
        self.switch_button.setText("Switch staff")
        self.switch_button.setAccessibleName("Switch staff")
        self.switch_button.clicked.connect(self.switchStaffRequested)
        self.lock_button = QToolButton()
        self.lock_button.setText("Lock")
        self.lock_button.setAccessibleName("Lock")
        self.lock_button.clicked.connect(self.lockRequested)
        self.switch_button.setVisible(self.kiosk)
        self.lock_button.setVisible(self.kiosk)

        self.search = QLineEdit()
        self.search.setAccessibleName("Search")
        self.search.setPlaceholderText("Search names, phones, messages   Ctrl+F")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(120)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(self._on_search_text)

        self.unread_chip = self._chip("Unread")
        self.mine_chip = self._chip("Mine")
        self.unassigned_chip = self._chip("Unassigned")
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Status filter")
        self.status_filter.setObjectName("StatusFilter")
        self.status_filter.addItem("Any status", None)
        # the labels are in pipeline order (a test holds them to PIPELINE_ORDER): the
        # first frame does not wait for app.core.statuses to import
        for value, label in fmt.PIPELINE_LABELS.items():
            self.status_filter.addItem(label, value)
        self.status_filter.activated.connect(self._apply_filters)
        chips = QHBoxLayout()
        chips.setSpacing(6)
        for chip in (self.unread_chip, self.mine_chip, self.unassigned_chip):
            chips.addWidget(chip)
        chips.addStretch(1)

        self.leads_view = OnePassListView()
        self.leads_view.setAccessibleName("Leads")
        self.leads_view.setModel(self.leads_model)
        self.lead_delegate = LeadDelegate(self.leads_view)
        self.leads_view.setItemDelegate(self.lead_delegate)
        self.leads_view.setUniformItemSizes(True)
        self.leads_view.setMouseTracking(True)
        self.leads_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.leads_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.leads_view.setFrameShape(QFrame.Shape.NoFrame)
        self.leads_view.selectionModel().currentChanged.connect(self._on_current_lead)
        self.leads_model.loaded.connect(self._on_leads_loaded)
        self.leads_model.countChanged.connect(self._on_count)

        self.search_model.searched.connect(self._on_searched)

        # the search results and the empty states are built when first shown
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.leads_view)
        self._results_view: QListView | None = None
        self._no_leads: QWidget | None = None
        self._no_results: QWidget | None = None
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")

        top = QHBoxLayout()
        brand = QLabel("Web2Text")
        brand.setObjectName("HeaderTitle")
        top.addWidget(brand)
        # Shown only on the embedded demo, so nobody mistakes sample leads for real ones.
        self.demo_badge = QLabel("DEMO")
        self.demo_badge.setObjectName("DemoBadge")
        self.demo_badge.setAccessibleName("Demo mode")
        self.demo_badge.setToolTip("Sample data on a simulated Twilio: nothing is really texted")
        self.demo_badge.hide()
        top.addWidget(self.demo_badge)
        top.addStretch(1)
        top.addWidget(self.switch_button)
        top.addWidget(self.lock_button)
        top.addWidget(self.settings_button)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(0)
        head = QWidget()
        head_l = QVBoxLayout(head)
        head_l.setContentsMargins(14, 12, 14, 10)
        head_l.setSpacing(8)
        head_l.addLayout(top)
        head_l.addWidget(self.staff_label)
        head_l.addWidget(self.location)
        head_l.addWidget(self.search)
        head_l.addLayout(chips)
        count_row = QHBoxLayout()
        count_row.addWidget(self.count_label)
        count_row.addStretch(1)
        count_row.addWidget(self.status_filter)
        head_l.addLayout(count_row)
        side.addWidget(head)
        line = QFrame()
        line.setObjectName("Divider")
        line.setFixedHeight(1)
        side.addWidget(line)
        side.addWidget(self.list_stack, 1)

        # the pane's thread page and the lead panel are not in the first frame: built by
        # finish_build() once it has painted, or on first use (ConversationPane, panel)
        self.pane = ConversationPane(self.thread_model)
        self.pane.togglePanel.connect(lambda: self.panel.setVisible(not self.panel.isVisible()))
        self.pane.sendRequested.connect(self._send)
        self.pane.retryRequested.connect(self._retry)
        self.pane.discardRequested.connect(self._discard)
        self.pane.markLostRequested.connect(lambda lid: self._update_lead(lid, status="lost"))
        self._panel: LeadPanel | None = None

        self.splitter = QSplitter()
        self.splitter.setHandleWidth(1)
        self.splitter.addWidget(sidebar)
        self.splitter.addWidget(self.pane)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([360, 920])
        self.splitter.setChildrenCollapsible(False)

        self.offline_banner = Banner("warning", "Offline")
        self.offline_banner.set_text(
            "You're offline. Messages you send are kept on this PC and go "
            "out as soon as the connection is back."
        )
        self.notice = Banner("info", "Notice")
        self.notice_open = self.notice.add_button("Open")
        self.notice_close = self.notice.add_button("✕")
        self.notice_close.setAccessibleName("Dismiss notice")
        self.notice_close.clicked.connect(self.notice.hide)
        self.notice_open.clicked.connect(self._open_notice)
        self._notice_target: tuple[str | None, str | None] = (None, None)

        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.offline_banner)
        cl.addWidget(self.notice)
        cl.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        bar = QStatusBar()
        self.state_label = QLabel()
        self.state_label.setAccessibleName("Connection status")
        self.queue_label = QLabel()
        self.queue_label.setAccessibleName("Outbox")
        self.error_label = QLabel()
        self.error_label.setAccessibleName("Last error")
        bar.addWidget(self.state_label)
        bar.addWidget(self.queue_label)
        bar.addWidget(self.error_label, 1)
        self.setStatusBar(bar)
        self.set_status(self._status)

    def finish_build(self) -> None:
        """Build what the first frame did without (the app calls it once rows painted,
        or after a few seconds without any, and again when an engine starts):
        the conversation's thread page, the lead panel, search results, shortcuts (no
        key press is handled before the app's loop runs anyway)."""
        if self._finished:
            return
        self._finished = True
        self.pane.ensure_built()
        _ = self.panel, self.results_view
        self._shortcuts()

    @property
    def panel(self) -> LeadPanel:
        """The lead panel (hidden until a lead is opened), built on first use."""
        if self._panel is None:
            from app.ui.leadpanel import LeadPanel

            panel = self._panel = LeadPanel()
            panel.setMinimumWidth(270)
            panel.statusChosen.connect(lambda lid, s: self._update_lead(lid, status=s))
            panel.assigneeChosen.connect(lambda lid, a: self._update_lead(lid, assignee_id=a))
            panel.noteAdded.connect(lambda lid, n: self._update_lead(lid, note=n))
            panel.hide()
            sizes = self.splitter.sizes()
            self.splitter.addWidget(panel)
            self.splitter.setStretchFactor(2, 0)
            # room for it when it shows, taken from the conversation
            self.splitter.setSizes([sizes[0], max(300, sizes[1] - 300), 300])
        return self._panel

    @property
    def results_view(self) -> QListView:
        if self._results_view is None:
            view = self._results_view = QListView()
            view.setAccessibleName("Search results")
            view.setModel(self.search_model)
            view.setItemDelegate(SearchDelegate(view))
            view.setFrameShape(QFrame.Shape.NoFrame)
            view.activated.connect(self._open_hit)
            view.clicked.connect(self._open_hit)
            self.list_stack.addWidget(view)
        return self._results_view

    @property
    def no_leads(self) -> QWidget:
        if self._no_leads is None:
            self._no_leads = empty_state(
                "No leads here",
                "New website leads show up here the moment "
                "they arrive. Try another filter or location.",
            )
            self.list_stack.addWidget(self._no_leads)
        return self._no_leads

    @property
    def no_results(self) -> QWidget:
        if self._no_results is None:
            self._no_results = empty_state("No matches", "Nothing matches that search.")
            self.list_stack.addWidget(self._no_results)
        return self._no_results

    def _chip(self, text: str) -> QPushButton:
        chip = QPushButton(text)
        chip.setObjectName("FilterChip")
        chip.setCheckable(True)
        chip.setAccessibleName(f"{text} filter")
        chip.toggled.connect(self._apply_filters)
        return chip

    def _shortcuts(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut

        def add(seq: str | QKeySequence, slot: Callable[[], None]) -> QShortcut:
            s = QShortcut(QKeySequence(seq), self)
            s.setContext(Qt.ShortcutContext.WindowShortcut)
            s.activated.connect(slot)
            return s

        add("Ctrl+K", lambda: self.jump.popup(self.engine))
        add("Ctrl+F", self.focus_search)
        add("Ctrl+Return", self.pane.submit)
        add("Ctrl+Enter", self.pane.submit)
        add("Alt+Up", lambda: self.step_lead(-1))
        add("Alt+Down", lambda: self.step_lead(1))
        add("Escape", self.escape)

    @property
    def jump(self) -> JumpDialog:
        """The Ctrl+K popup, built on first use (nothing of it is seen at start)."""
        if self._jump is None:
            self._jump = JumpDialog(self)
            self._jump.chosen.connect(self.open_lead)
        return self._jump

    def show_cached_inbox(self, rows: list[Any], total: int) -> None:
        """The inbox read from the local store at start-up (`app.sync.inbox.first_page`) until
        the engine's first answer."""
        self.leads_model.show_cached(rows, total)

    # ------------------------------------------------------------------ engine

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        if self.bridge is not None:
            for sig, slot in self._bridge_slots():
                sig.disconnect(slot)
        self.engine, self.bridge = engine, bridge
        if engine is not None:
            self.finish_build()
        if bridge is not None:
            for sig, slot in self._bridge_slots():
                sig.connect(slot)
        self.current = None
        if engine is None:
            self._pending_open = None
        self.pane.show_lead(None)
        if self._panel is not None:
            self._panel.set_lead(None, None)
            self._panel.hide()
        self._show_identity()
        self.leads_model.set_engine(engine)
        self.search_model.set_engine(engine)
        self.thread_model.set_engine(engine)
        if engine is not None:
            self.set_status(engine.status())
            # the first page of the inbox goes first; the location counts (a sum over
            # every conversation) follow once it is painted
            self._locations_after_rows = True
            pending, self._pending_open = self._pending_open, None
            if pending is not None:
                self.open_lead(pending)

    def _bridge_slots(self) -> list[tuple[Any, Callable[..., None]]]:
        assert self.bridge is not None
        b = self.bridge
        return [
            (b.changesApplied, self._on_changes),
            (b.statusChanged, self.set_status),
            (b.outboxFailed, self._on_outbox_failed),
        ]

    def _on_changes(self, ev: ChangesApplied) -> None:
        self.leads_model.reload()
        self._reload_locations_soon()
        if self.search_model.query:
            self._search_timer.start()
        cur = self.current
        if cur is None:
            return
        mine = cur.lead_id in ev.lead_ids or (
            cur.conversation_sid is not None and cur.conversation_sid in ev.conversation_sids
        )
        if mine:
            self.thread_model.reload()
            self._reload_current_soon()
            if (
                self.isActiveWindow()
                and not ev.local
                and cur.conversation_sid in ev.conversation_sids
            ):
                self.tasks.spawn(self._mark_read(cur.conversation_sid))
        elif ev.message_sids:
            # a message change does not name its conversation: refresh the open thread
            # (one coalesced query), not the lead's details
            self.thread_model.reload()

    def _reload_current_soon(self) -> None:
        """Re-read the open lead's details, at most every 150 ms during bursts."""
        if not hasattr(self, "_lead_timer"):
            self._lead_timer = QTimer(self)
            self._lead_timer.setSingleShot(True)
            self._lead_timer.setInterval(150)
            self._lead_timer.timeout.connect(self._reload_current)
        if not self._lead_timer.isActive():
            self._lead_timer.start()

    def _reload_current(self) -> None:
        if self.current is not None:
            self.tasks.spawn(self._load_lead(self.current.lead_id, open_thread=False))

    def _on_outbox_failed(self, ev: OutboxItemFailed) -> None:
        self.error_label.setText(f"Not sent: {ev.message}")
        if self.current and ev.conversation_sid == self.current.conversation_sid:
            self.thread_model.reload()

    def set_demo(self, demo: bool) -> None:
        self.demo_badge.setVisible(demo)
        if demo and self.engine is None:
            # Seeding the demo takes a while; say so instead of an empty, "stopped" window.
            text = "Preparing the demo: sample leads and simulated customers (about a minute)…"
            self.state_label.setText(text)
            self.state_label.setAccessibleDescription(text)

    def _show_identity(self) -> None:
        # The engine learns who is signed in from /v1/me after it starts, so this runs
        # again on status changes until the name is known.
        me = self.engine.me if self.engine is not None else None
        self.staff_label.setText(f"Signed in as {me.name}" if me else "")
        self.setWindowTitle(f"Web2Text — {me.name}" if me else "Web2Text")

    def set_status(self, status: SyncStatus) -> None:
        self._status = status
        if self.engine is not None and not self.staff_label.text():
            self._show_identity()
        text, color = STATE_TEXT.get(status.state, (str(status.state), "text_muted"))
        from app.ui import theme

        hexcolor = getattr(theme.current(), color)
        self.state_label.setText(f"<span style='color:{hexcolor}'>●</span> {text}")
        self.state_label.setAccessibleDescription(text)
        parts = []
        if status.pending:
            parts.append(f"{status.pending} waiting to send")
        if status.failed:
            parts.append(f"{status.failed} failed")
        self.queue_label.setText(" · ".join(parts))
        if status.last_error:
            self.error_label.setText(status.last_error)
        self.offline_banner.setVisible(status.state in (SyncState.OFFLINE, SyncState.AUTH_REQUIRED))
        if status.state is SyncState.AUTH_REQUIRED:
            self.offline_banner.set_text(
                "The relay no longer accepts this staff key. "
                "Sign in again (Switch staff) to keep syncing."
            )
        elif status.state is SyncState.OFFLINE:
            self.offline_banner.set_text(
                "You're offline. Messages you send are kept on this PC and go "
                "out as soon as the connection is back."
            )

    # ------------------------------------------------------------------ locations

    def _reload_locations_soon(self) -> None:
        if not hasattr(self, "_loc_timer"):
            self._loc_timer = QTimer(self)
            self._loc_timer.setSingleShot(True)
            self._loc_timer.setInterval(250)
            self._loc_timer.timeout.connect(self.reload_locations)
        if not self._loc_timer.isActive():
            self._loc_timer.start()

    def reload_locations(self) -> None:
        self.tasks.spawn(self._load_locations())

    async def _load_locations(self) -> None:
        if self.engine is None:
            return
        rows = list(await self.engine.list_locations())
        current = self.location.currentData()
        self.location.blockSignals(True)
        self.location.clear()
        total = sum(r.unread for r in rows)
        self.location.addItem(f"All locations{f'  ({total} unread)' if total else ''}", None)
        # the locations the staff member has now (a switch of profile drops the others)
        self._location_tz = {r.location_id: r.timezone for r in rows}
        self._location_names = {r.location_id: r.name for r in rows}
        for r in rows:
            self.location.addItem(
                f"{r.name}{f'  ({r.unread} unread)' if r.unread else ''}", r.location_id
            )
        self.location.setCurrentIndex(max(0, self.location.findData(current)))
        self.location.blockSignals(False)
        self.location.setEnabled(len(rows) > 1 or self.location.currentIndex() != 0)
        self._show_row_locations()

    def _show_row_locations(self) -> None:
        """Rows name their location while the inbox shows several locations."""
        mixed = self.location.currentData() is None and len(self._location_names) > 1
        names = fmt.short_location_names(self._location_names) if mixed else {}
        self.leads_model.set_location_names(names)

    def _on_location(self, _i: int) -> None:
        self._apply_filters()
        self._show_row_locations()

    # ------------------------------------------------------------------ inbox

    def _apply_filters(self) -> None:
        me = self.engine.me if self.engine else None
        self.leads_model.update_filter(
            location_id=self.location.currentData(),
            unread_only=self.unread_chip.isChecked(),
            mine=self.mine_chip.isChecked() and me is not None,
            unassigned=self.unassigned_chip.isChecked(),
            pipeline_status=self.status_filter.currentData(),
        )

    def _on_count(self, total: int) -> None:
        self.count_label.setText(f"{total} lead{'s' if total != 1 else ''}")
        if not self.search_model.query:
            self.list_stack.setCurrentWidget(self.leads_view if total else self.no_leads)

    def _on_leads_loaded(self) -> None:
        if self._locations_after_rows:
            self._locations_after_rows = False
            # (a moment later: its query would queue in front of the first paint)
            QTimer.singleShot(100, self, self.reload_locations)
        if self.current is None:
            return
        row = self.leads_model.index_of(self.current.lead_id)
        sm = self.leads_view.selectionModel()
        if row >= 0:
            sm.blockSignals(True)
            sm.setCurrentIndex(
                self.leads_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            sm.blockSignals(False)
            self.leads_view.viewport().update()

    def _on_current_lead(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = current.data(ROW_ROLE)
        if row is not None and (self.current is None or self.current.lead_id != row.lead_id):
            self.open_lead(row.lead_id)

    def step_lead(self, delta: int) -> None:
        if self.list_stack.currentWidget() is self.results_view:
            view = self.results_view
        else:
            view = self.leads_view
        model = view.model()
        n = model.rowCount()
        if n == 0:
            return
        row = view.currentIndex().row()
        row = 0 if row < 0 else max(0, min(n - 1, row + delta))
        view.setCurrentIndex(model.index(row, 0))
        if view is self.results_view:
            self._open_hit(model.index(row, 0))

    # ------------------------------------------------------------------ search

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _on_search_text(self, text: str) -> None:
        if not text.strip():
            self._search_timer.stop()
            self.search_model.search("")
            self.list_stack.setCurrentWidget(
                self.leads_view if self.leads_model.total else self.no_leads
            )
            return
        self._search_timer.start()

    def _run_search(self) -> None:
        self.search_model.search(self.search.text())

    def _on_searched(self, _query: str, hits: int) -> None:
        self.list_stack.setCurrentWidget(self.results_view if hits else self.no_results)
        self.count_label.setText(f"{hits} match{'es' if hits != 1 else ''}")

    def _open_hit(self, index: QModelIndex) -> None:
        hit = index.data(ROW_ROLE)
        if hit is not None and hit.lead_id:
            self.open_lead(hit.lead_id)

    def escape(self) -> None:
        if self._jump is not None and self._jump.isVisible():
            self._jump.hide()
        elif self.search.text():
            self.search.clear()
            self.leads_view.setFocus()
        elif self.pane.composer_has_focus():
            self.leads_view.setFocus()
        elif self.notice.isVisible():
            self.notice.hide()

    # ------------------------------------------------------------------ conversation

    @property
    def open_conversation_sid(self) -> str | None:
        return self.current.conversation_sid if self.current else None

    def open_lead(self, lead_id: str) -> None:
        row = self.leads_model.row_at(self.leads_model.index_of(lead_id))
        if self.engine is None:
            # a row of the stored first page, clicked before the engine is up: show what
            # the row knows and open the lead as soon as the engine is there
            self._pending_open = lead_id
            if row is not None:
                self.pane.show_row(row)
            return
        if row is not None and row.conversation_sid:
            # the inbox row already names the conversation: start loading the thread now,
            # alongside the lead's details, instead of one after the other
            self.pane.show_row(row)
        self.tasks.spawn(self._load_lead(lead_id, open_thread=True))

    def open_conversation(self, conversation_sid: str | None, lead_id: str | None) -> None:
        """From a notification: show the window and that conversation."""
        self.showNormal() if not self.kiosk else self.showFullScreen()
        self.raise_()
        self.activateWindow()
        if lead_id:
            self.open_lead(lead_id)

    async def _load_lead(self, lead_id: str, open_thread: bool) -> None:
        if self.engine is None:
            return
        lead = await self.engine.get_lead(lead_id)
        if lead is None:
            return
        if not open_thread and (self.current is None or self.current.lead_id != lead_id):
            return
        self.current = lead
        self.pane.show_lead(lead)
        self.panel.set_lead(lead, self.engine.me)
        if open_thread:
            self.panel.show()
            row = self.leads_model.index_of(lead_id)
            if row >= 0 and self.leads_view.currentIndex().row() != row:
                sm = self.leads_view.selectionModel()
                sm.blockSignals(True)
                self.leads_view.setCurrentIndex(self.leads_model.index(row))
                sm.blockSignals(False)
                self.leads_view.viewport().update()
        self._update_composer_context(lead)
        if open_thread and lead.conversation_sid:
            shown = self.leads_model.row_at(self.leads_model.index_of(lead_id))
            if shown is None or shown.unread:
                await self._mark_read(lead.conversation_sid)

    async def _mark_read(self, conversation_sid: str) -> None:
        if self.engine is not None:
            await self.engine.mark_read(conversation_sid)

    def _update_composer_context(self, lead: LeadDetail) -> None:
        me = self.engine.me if self.engine else None
        from app.core.templates import split_name  # with the composer, not at start-up

        first, last = split_name(lead.name)
        self.pane.composer.set_merge_fields(
            {
                "first_name": first,
                "last_name": last,
                "staff_name": me.name.split()[0] if me and me.name else "",
                "location_name": lead.location_name
                or self._location_names.get(lead.location_id, ""),
            }
        )
        self.pane.composer.set_templates(self._templates)
        tz = self._location_tz.get(lead.location_id)
        phone = lead.phone

        def check(now: datetime) -> str | None:
            last_inbound = max(
                (m.created_at for m in self.thread_model.messages if m.author_kind == "customer"),
                default=None,
            )
            # phonenumbers and zoneinfo load on first use, not on the start-up path
            from app.ui.quiet import quiet_hours_warning

            return quiet_hours_warning(
                now, phone=phone, location_tz=tz, last_inbound_at=last_inbound
            )

        self.pane.composer.set_quiet_hours_check(check)

    def set_templates(self, templates: list[Template]) -> None:
        self._templates = list(templates)
        self.pane.set_templates(self._templates)

    def _send(self, text: str) -> None:
        lead = self.current
        if self.engine is None or lead is None or not lead.conversation_sid:
            return
        self.pane.composer.clear()
        self.tasks.spawn(self._do_send(lead.conversation_sid, text))

    async def _do_send(self, sid: str, text: str) -> None:
        assert self.engine is not None
        try:
            msg = await self.engine.send_message(sid, text)
        except EngineError as exc:
            self.pane.composer.edit.setPlainText(text)
            self.error_label.setText(exc.message)
            return
        self.thread_model.add_local(msg)

    def _retry(self, m: ThreadMessage) -> None:
        if self.engine is None:
            return
        if m.outbox_id:
            self.tasks.spawn(self.engine.retry(m.outbox_id))
        else:  # Twilio reported it failed: send the text again as a new message
            self.tasks.spawn(self._do_send(m.conversation_sid, m.body))

    def _discard(self, m: ThreadMessage) -> None:
        if self.engine is not None and m.outbox_id:
            self.tasks.spawn(self._discard_and_reload(m.outbox_id))

    async def _discard_and_reload(self, outbox_id: str) -> None:
        assert self.engine is not None
        await self.engine.discard(outbox_id)
        self.thread_model.reload()

    def _update_lead(self, lead_id: str, **changes: object) -> None:
        if self.engine is None:
            return
        self.tasks.spawn(self._do_update(lead_id, changes))

    async def _do_update(self, lead_id: str, changes: dict[str, object]) -> None:
        assert self.engine is not None
        try:
            lead = await self.engine.update_lead(lead_id, **changes)  # type: ignore[arg-type]
        except EngineError as exc:
            self.error_label.setText(exc.message)
            return
        if self.current and self.current.lead_id == lead_id:
            self.current = lead
            self.panel.set_lead(lead, self.engine.me)
            self.pane.show_lead(lead)
        self.leads_model.reload()

    # ------------------------------------------------------------------ notices / close

    def show_notice(
        self, title: str, body: str, conversation_sid: str | None, lead_id: str | None
    ) -> None:
        """In-window notification (where there is no system tray)."""
        self.notice.set_text(f"<b>{title}</b> — {body}")
        self._notice_target = (conversation_sid, lead_id)
        self.notice_open.setVisible(lead_id is not None)
        self.notice.show()

    def _open_notice(self) -> None:
        sid, lead = self._notice_target
        self.notice.hide()
        self.open_conversation(sid, lead)

    def _tick(self) -> None:
        self.leads_view.viewport().update()
        self.pane.refresh_warning()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.quitting:
            event.accept()
            return
        if self.kiosk:
            event.ignore()  # a showroom kiosk cannot be closed by customers walking by
            return
        if self.tray_available:
            event.ignore()
            self.hide()
            self.closeToTray.emit()
            return
        event.accept()
        self.closedWithoutTray.emit()

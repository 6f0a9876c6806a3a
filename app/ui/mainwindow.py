"""The main window: lays out the panes and connects their controllers.

Each pane has a controller that owns its model and its commands and reacts to the
engine's changes for its own ids: `InboxController` (sidebar), `ConversationController`
(conversation pane) and `LeadPanelController` (lead panel). The window builds the
widgets, routes "open this lead" between them, and shows the engine's status,
notices and the signed-in staff member.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import QApplication, QListView, QMainWindow, QSplitter, QVBoxLayout, QWidget

from app.sync.api import Engine, LeadDetail, LeadRow, SyncState, SyncStatus
from app.ui.bridge import BridgeSlots, EngineBridge
from app.ui.conversation import Banner, ConversationPane
from app.ui.conversation_controller import ConversationController
from app.ui.health import HealthBanners
from app.ui.inbox_controller import InboxController
from app.ui.lead_panel_controller import LeadPanelController
from app.ui.responsive import Mode, PaneLayout
from app.ui.sidebar import Sidebar
from app.ui.staff_actions import StaffActions
from app.ui.statusbar import SyncStatusBar
from app.ui.tasks import Tasks

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFileDialog

    from app.ui.jump import JumpDialog
    from app.ui.lead_delegate import LeadDelegate
    from app.ui.leadpanel import LeadPanel
    from app.ui.settings import Template
    from app.ui.shared_templates_dialog import SharedTemplatesDialog

OFFLINE_TEXT = (
    "You're offline. Messages you send are kept on this PC and go "
    "out as soon as the connection is back."
)
AUTH_REQUIRED_TEXT = (
    "The relay no longer accepts this staff key. Sign in again (Switch staff) to keep syncing."
)


class MainWindow(QMainWindow):
    settingsRequested = Signal()
    switchStaffRequested = Signal()
    lockRequested = Signal()
    signOutRequested = Signal()
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
        self._status = SyncStatus(SyncState.STOPPED)
        self._pending_open: str | None = None  # clicked before the engine was there
        self._opening: str | None = None  # the lead last asked for
        self._focus_for: str | None = None  # the lead whose composer gets focus once shown
        self._jump: JumpDialog | None = None
        self.export_dialog: QFileDialog | None = None  # the last export's save dialog
        self.shared_templates_dialog: SharedTemplatesDialog | None = None  # the last one
        self._finished = False  # finish_build() done
        self._events = BridgeSlots(lambda b: [(b.statusChanged, self.set_status)])
        self.setWindowTitle("Web2Text")
        # the app places it (app.ui.placement: the screen's room, or where it was)
        self.resize(1280, 800)
        # one column below ONE_COLUMN_BELOW: a 1024×768 screen at 150 % is 683 px wide
        self.setMinimumSize(360, 420)
        self._build()
        self.inbox = InboxController(self.sidebar, self.tasks, self)
        self.conversation = ConversationController(self.pane, self.tasks, self)
        self.lead_panel = LeadPanelController(self._place_panel, self.tasks, self)
        self._connect()
        # the models and widgets that app scripts, tests and benchmarks reach directly
        self.leads_model = self.inbox.model
        self.search_model = self.inbox.search_model
        self.thread_model = self.conversation.model
        self.leads_view = self.sidebar.leads_view
        self.search = self.sidebar.search
        self.list_stack = self.sidebar.list_stack
        self._clock = QTimer(self)
        self._clock.setInterval(30_000)  # relative times and speed-to-lead timers tick
        self._clock.timeout.connect(self._tick)
        self._clock.start()
        # the keyboard starts in the inbox (not on the first button in the tab chain)
        self.leads_view.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.sidebar = Sidebar(kiosk=self.kiosk)
        # the pane's thread page and the lead panel are not in the first frame: built by
        # finish_build() once it has painted, or on first use
        self.pane = ConversationPane()
        self.splitter = QSplitter()
        self.splitter.setHandleWidth(1)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.pane)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([360, 920])
        self.splitter.setChildrenCollapsible(False)
        self.offline_banner = Banner("warning", "Offline")
        self.offline_banner.set_text(OFFLINE_TEXT)
        self.notice = Banner("info", "Notice")
        self.notice_open = self.notice.add_button("Open")
        self.notice_close = self.notice.add_button("✕")
        self.notice_close.setAccessibleName("Dismiss notice")
        self._notice_target: tuple[str | None, str | None] = (None, None)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.offline_banner)
        # the store's health: storage problem, engine not started, repair, clock
        self.health = HealthBanners(self.tasks, self)
        for banner in self.health.banners():
            column.addWidget(banner)
        column.addWidget(self.notice)
        column.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.panes = PaneLayout(
            central,
            self.splitter,
            self.sidebar,
            self.pane,
            inbox_focus=self.sidebar.leads_view,
            focus_pane=self.pane.focus_composer,
            header_height=self.pane.header_height,
        )
        self.panes.fit(self.width())
        self.status_bar = SyncStatusBar()
        self.setStatusBar(self.status_bar)
        self.set_status(self._status)

    def _connect(self) -> None:
        side = self.sidebar
        side.settings_button.clicked.connect(self.settingsRequested)
        side.switch_button.clicked.connect(self.switchStaffRequested)
        side.lock_button.clicked.connect(self.lockRequested)
        side.switch_action.triggered.connect(self.switchStaffRequested)
        side.lock_action.triggered.connect(self.lockRequested)
        side.sign_out_action.triggered.connect(self.signOutRequested)
        self.notice_close.clicked.connect(self.notice.hide)
        self.notice_open.clicked.connect(self._open_notice)
        self.inbox.leadChosen.connect(self.open_lead)
        self.inbox.leadEntered.connect(lambda lead_id: self.open_lead(lead_id, focus=True))
        self.inbox.leadClicked.connect(self._on_lead_clicked)
        self.lead_panel.leadShown.connect(self._on_lead_shown)
        self.lead_panel.error.connect(self.status_bar.show_error)
        self.conversation.error.connect(self.status_bar.show_error)
        self.pane.togglePanel.connect(self.panes.toggle_details)
        self.pane.backRequested.connect(self.back_to_inbox)
        self.pane.exportRequested.connect(self.export_current)
        self.pane.manageSharedRequested.connect(self.open_shared_templates)
        self._connect_staff_actions()
        self.panes.changed.connect(self._on_panes_changed)

    def _connect_staff_actions(self) -> None:
        """Close, follow up, opt-out, dismiss, assign a colleague, new conversation."""
        staff = self.staff_actions = StaffActions(self, self.tasks, self)
        staff.error.connect(self.status_bar.show_error)
        staff.leadCreated.connect(lambda lead_id: self.open_lead(lead_id, focus=True))
        staff.colleagues.connect(lambda lead_id, members: self.panel.set_colleagues(
            lead_id, members))
        self.sidebar.new_button.clicked.connect(lambda: staff.new_conversation())
        self.pane.optOutRequested.connect(self._with_lead(staff.record_opt_out))
        self.pane.dismissRequested.connect(staff.dismiss_possible_opt_out)

    def _with_lead(self, act: Callable[[LeadDetail], None]) -> Callable[[str], None]:
        """`act` on the open lead, if it is the one asked for."""

        def run(lead_id: str) -> None:
            lead = self.current
            if lead is not None and lead.lead_id == lead_id:
                act(lead)

        return run

    def _place_panel(self, panel: LeadPanel) -> None:
        self._connect_panel(panel)
        self.panes.place_panel(panel)

    def _connect_panel(self, panel: LeadPanel) -> None:
        staff = self.staff_actions
        panel.closeRequested.connect(self._with_lead(staff.close_lead))
        panel.followUpRequested.connect(self._with_lead(staff.new_conversation))
        panel.optOutRequested.connect(self._with_lead(staff.record_opt_out))
        panel.colleaguesWanted.connect(staff.load_colleagues)

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

    def _shortcuts(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut

        def add(seq: str, slot: Callable[[], None]) -> None:
            s = QShortcut(QKeySequence(seq), self)
            s.setContext(Qt.ShortcutContext.WindowShortcut)
            s.activated.connect(lambda: self._while_locked(seq) if self._locked() else slot())

        add("Ctrl+K", lambda: self.jump.popup(self.engine))
        add("Ctrl+N", lambda: self.staff_actions.new_conversation())
        add("Ctrl+F", self.focus_search)
        add("Ctrl+,", self.settingsRequested.emit)
        add("Ctrl+L", self.lockRequested.emit)
        add("Ctrl+E", self.export_current)
        add("Ctrl+T", self.pane.open_templates)
        add("Ctrl+I", self.panes.toggle_details)
        add("Ctrl+Return", self.pane.submit)
        add("Ctrl+Enter", self.pane.submit)
        add("Alt+Up", lambda: self.inbox.step(-1))
        add("Alt+Down", lambda: self.inbox.step(1))
        add("Alt+Left", self.back_to_inbox)
        add("Escape", self.escape)

    def _while_locked(self, seq: str) -> None:
        """Locked, the window's shortcuts do nothing but Escape, which the lock screen
        takes (back from the PIN to the names)."""
        lock = self.findChild(QWidget, "LockScreen")
        if seq == "Escape" and lock is not None and hasattr(lock, "show_names"):
            lock.show_names()

    def _locked(self) -> bool:
        """The kiosk's lock screen covers the window: its shortcuts would show what the
        lock hides (Ctrl+K lists customers)."""
        lock = self.findChild(QWidget, "LockScreen")
        return lock is not None and lock.isVisible()

    @property
    def panel(self) -> LeadPanel:
        return self.lead_panel.panel

    @property
    def results_view(self) -> QListView:
        return self.sidebar.results_view

    @property
    def lead_delegate(self) -> LeadDelegate:
        return self.sidebar.lead_delegate

    @property
    def jump(self) -> JumpDialog:
        """The Ctrl+K popup, built on first use (nothing of it is seen at start)."""
        if self._jump is None:
            from app.ui.jump import JumpDialog

            self._jump = JumpDialog(self, self.tasks)
            self._jump.chosen.connect(lambda lead_id: self.open_lead(lead_id, focus=True))
        return self._jump

    def show_cached_inbox(self, rows: Sequence[LeadRow], total: int) -> None:
        """The inbox read from the local store at start-up (`app.sync.inbox.first_page`)
        until the engine's first answer."""
        self.inbox.show_cached(rows, total)

    # ------------------------------------------------------------------ engine

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        self.engine, self.bridge = engine, bridge
        if engine is not None:
            self.finish_build()
        self._events.attach(bridge)
        self.health.set_engine(engine)
        if engine is None:
            self._pending_open = None
        self._opening = self._focus_for = None
        self.panes.set_has_lead(False)
        self.lead_panel.set_engine(engine, bridge)
        self.staff_actions.set_engine(engine)
        self.conversation.set_engine(engine, bridge)
        self._show_identity()
        self.inbox.set_engine(engine, bridge)
        if engine is not None:
            self.set_status(engine.status())
            pending, self._pending_open = self._pending_open, None
            if pending is not None:
                self.open_lead(pending, focus=self._focus_for == pending)

    def set_demo(self, demo: bool) -> None:
        self.sidebar.demo_badge.setVisible(demo)
        if demo and self.engine is None:
            # Seeding the demo takes a while; say so instead of an empty, "stopped" window.
            self.status_bar.show_state_text(
                "Preparing the demo: sample leads and simulated customers (about a minute)…"
            )

    def set_templates(self, templates: list[Template]) -> None:
        self.conversation.set_templates(templates)

    def _show_identity(self) -> None:
        # The engine learns who is signed in from /v1/me after it starts, so this runs
        # again on status changes until the name is known.
        me = self.engine.me if self.engine is not None else None
        self.sidebar.staff_label.setText(f"Signed in as {me.name}" if me else "")
        self.setWindowTitle(f"Web2Text — {me.name}" if me else "Web2Text")

    def set_status(self, status: SyncStatus) -> None:
        self._status = status
        if self.engine is not None and not self.sidebar.staff_label.text():
            self._show_identity()
        self.status_bar.show_status(status)
        self.health.show_status(status)
        self.offline_banner.setVisible(
            status.state in (SyncState.OFFLINE, SyncState.AUTH_REQUIRED)
        )
        if status.state is SyncState.AUTH_REQUIRED:
            self.offline_banner.set_text(AUTH_REQUIRED_TEXT)
        elif status.state is SyncState.OFFLINE:
            self.offline_banner.set_text(OFFLINE_TEXT)

    # ------------------------------------------------------------------ opening a lead

    @property
    def current(self) -> LeadDetail | None:
        """The open lead, as last read."""
        return self.lead_panel.current

    @property
    def open_conversation_sid(self) -> str | None:
        return self.current.conversation_sid if self.current else None

    def open_lead(self, lead_id: str, *, focus: bool = False) -> None:
        """Show this lead; `focus`: to work on it (Enter in the inbox, Ctrl+K, a
        notification): its conversation is shown (one column) and the composer gets
        the keyboard. Without it (arrow keys, a click) the keyboard stays where it is."""
        if focus:
            self._focus_for = lead_id
        elif self._focus_for != lead_id:
            self._focus_for = None
        current = self.current
        if focus and current is not None and current.lead_id == lead_id == self._opening:
            self._enter_lead()  # open already (the arrow keys went there)
            self._focus_for = None
            return
        self._opening = lead_id
        row = self.inbox.row(lead_id)
        if self.engine is None:
            # a row of the stored first page, clicked before the engine is up: show what
            # the row knows and open the lead as soon as the engine is there
            self._pending_open = lead_id
            if row is not None:
                self.conversation.show_row(row, location_name=self._location_of(row))
                if focus:
                    self._enter_lead()
            return
        if row is not None and row.conversation_sid:
            # the inbox row already names the conversation: start loading the thread now,
            # alongside the lead's details, instead of one after the other
            self.conversation.show_row(row, location_name=self._location_of(row))
            if focus:  # typing can start now: the send goes to the row's conversation
                self._enter_lead()
        self.lead_panel.open(lead_id)

    def _location_of(self, row: LeadRow) -> str:
        return self.inbox.location_names.get(row.location_id, "")

    def _enter_lead(self) -> None:
        self.panes.lead_opened()
        self.pane.focus_composer()

    def _on_lead_clicked(self, lead_id: str) -> None:
        """A row clicked: in one column that opens it (the inbox gives way)."""
        if self.panes.mode is Mode.ONE_COLUMN:
            self.open_lead(lead_id, focus=True)

    def _on_lead_shown(self, lead: LeadDetail, opened: bool) -> None:
        self.conversation.show_lead(
            lead,
            location_name=self.inbox.location_names.get(lead.location_id, ""),
            location_tz=self.inbox.location_timezones.get(lead.location_id),
            location_hours=self.inbox.location_hours.get(lead.location_id),
        )
        if not opened:
            return
        self.panes.set_has_lead(True)
        if self._focus_for == lead.lead_id:
            self._focus_for = None
            self._enter_lead()  # again: the composer may only now be enabled
        self.inbox.show_open(lead.lead_id)
        row = self.inbox.row(lead.lead_id)
        if lead.conversation_sid and (row is None or row.unread):
            self.conversation.mark_read()

    def open_conversation(self, conversation_sid: str | None, lead_id: str | None) -> None:
        """From a notification: show the window and that conversation."""
        self.showNormal() if not self.kiosk else self.showFullScreen()
        self.raise_()
        self.activateWindow()
        if lead_id:
            self.open_lead(lead_id, focus=True)

    # ------------------------------------------------------------------ keys, notices, close

    def focus_search(self) -> None:
        self.panes.show_inbox()
        self.inbox.focus_search()

    def back_to_inbox(self) -> None:
        """One column: the inbox again, the keyboard in its list."""
        if self.panes.show_inbox():
            self.leads_view.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_panes_changed(self) -> None:
        self.pane.set_layout(
            one_column=self.panes.mode is Mode.ONE_COLUMN,
            details_shown=self.panes.panel_visible
            or (self.panes.mode is Mode.WIDE and self.panes.details_wanted),
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.panes.fit(self.width())

    def step_lead(self, delta: int) -> None:
        self.inbox.step(delta)

    def reload_locations(self) -> None:
        self.inbox.reload_locations()

    def escape(self) -> None:
        """Esc closes the jump popup, or the lead panel's drawer, or clears the search,
        or leaves the conversation for the inbox's list, or hides the notice: the first
        that applies."""
        if self._jump is not None and self._jump.isVisible():
            self._jump.hide()
        elif self.panes.close_drawer() or self.inbox.clear_search():
            return
        elif self._focus_in_conversation():
            self.panes.show_inbox()
            self.leads_view.setFocus(Qt.FocusReason.OtherFocusReason)
        elif self.notice.isVisible():
            self.notice.hide()
        else:
            self.back_to_inbox()

    def _focus_in_conversation(self) -> bool:
        focused = QApplication.focusWidget()
        return focused is not None and self.pane.isAncestorOf(focused)

    def open_shared_templates(self, parent: QWidget | None = None) -> None:
        """The dealership's shared templates of the staff member's locations (the open
        lead's first)."""
        from app.ui.shared_templates_dialog import SharedTemplatesDialog

        engine = self.engine
        if engine is None:
            return
        names = self.inbox.location_names
        ids = engine.me.location_ids if engine.me is not None else tuple(names)
        dlg = self.shared_templates_dialog = SharedTemplatesDialog(
            engine,
            [(ident, names.get(ident, ident)) for ident in ids],
            parent or self,
            location_id=self.current.location_id if self.current is not None else None,
        )
        dlg.open()
        dlg.activateWindow()

    def export_current(self) -> None:
        """Ctrl+E or Export…: the open conversation to a PDF or plain-text file."""
        from app.ui.export import ask_where

        lead = self.current
        if lead is None or self.engine is None:
            return

        def chosen(path: Path, kind: str) -> None:
            self.tasks.spawn(self._export(lead, path, kind))

        self.export_dialog = ask_where(self, lead, chosen)

    async def _export(self, lead: LeadDetail, path: Path, kind: str) -> None:
        from app.ui.export import export_conversation

        engine = self.engine
        if engine is None:
            return
        me = engine.me
        try:
            written = await export_conversation(
                engine,
                lead,
                path,
                kind=kind,
                location_name=self.inbox.location_names.get(lead.location_id, ""),
                location_tz=self.inbox.location_timezones.get(lead.location_id),
                exported_by=me.name if me is not None else "",
            )
        except OSError as exc:
            self.status_bar.show_error(f"Export failed: {exc.strerror or exc}")
            return
        self.show_notice("Exported", str(written), None, None)

    def show_notice(
        self, title: str, body: str, conversation_sid: str | None, lead_id: str | None
    ) -> None:
        """In-window notification (where there is no system tray)."""
        self.notice.set_text(f"{title} — {body}")  # as typed: a plain-text label
        self._notice_target = (conversation_sid, lead_id)
        self.notice_open.setVisible(lead_id is not None)
        self.notice.show()

    def _open_notice(self) -> None:
        sid, lead = self._notice_target
        self.notice.hide()
        self.open_conversation(sid, lead)

    def _tick(self) -> None:
        self.inbox.tick()
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

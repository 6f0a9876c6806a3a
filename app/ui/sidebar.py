"""The window's left column: who is signed in, location, search, filters, the leads list.

Layout only: `InboxController` gives the lists their models and acts on the widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import fmt
from app.ui.conversation import empty_state
from app.ui.lead_delegate import LeadDelegate
from app.ui.onepass_view import OnePassListView
from app.ui.plain import plain_label


def _tool_button(text: str, accessible: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(accessible)
    return button


def _chip(text: str) -> QPushButton:
    chip = QPushButton(text)
    chip.setObjectName("FilterChip")
    chip.setCheckable(True)
    chip.setAccessibleName(f"{text} filter")
    # reached with Tab; a click leaves the keyboard where it was (a Space typed next
    # must not toggle the filter again)
    chip.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    return chip


class NewActivityPill(QPushButton):
    """"3 new" over the top of the inbox while the list holds still (InboxController)."""

    def __init__(self, view: QWidget) -> None:
        super().__init__(view)
        self.setObjectName("NewPill")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Home in the list does it by keyboard
        self.setToolTip("Show the inbox in its new order (or press Home in the list)")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.hide()
        view.installEventFilter(self)

    def show_count(self, count: int) -> None:
        self.setText(f"{count} new ↑")
        self.setAccessibleName(f"{count} new: show the new order")
        self.setVisible(count > 0)
        self._place()
        self.raise_()

    def _place(self) -> None:
        view = self.parentWidget()
        if view is None:
            return
        self.adjustSize()
        self.move((view.width() - self.width()) // 2, 8)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False


class Sidebar(QWidget):
    """The search results and the lists' empty states are built when first shown."""

    hitActivated = Signal(QModelIndex)  # a search result clicked
    hitEntered = Signal(QModelIndex)  # Enter (or a double-click) on a search result

    def __init__(self, *, kiosk: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(320)
        self._search_model: QAbstractItemModel | None = None
        self._results_view: QListView | None = None
        self._no_leads: QWidget | None = None
        self._no_results: QWidget | None = None
        self._make_widgets(kiosk)
        head = QWidget()
        head_l = QVBoxLayout(head)
        head_l.setContentsMargins(14, 12, 14, 10)
        head_l.setSpacing(8)
        head_l.addLayout(self._top_row())
        head_l.addWidget(self.staff_label)
        head_l.addWidget(self.location)
        head_l.addWidget(self.search)
        head_l.addLayout(self._chips_row())
        head_l.addLayout(self._count_row())
        line = QFrame()
        line.setObjectName("Divider")
        line.setFixedHeight(1)
        side = QVBoxLayout(self)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(0)
        side.addWidget(head)
        side.addWidget(line)
        side.addWidget(self.list_stack, 1)

    def _make_widgets(self, kiosk: bool) -> None:
        self.staff_label = plain_label()  # a staff member's name
        self.staff_label.setObjectName("Muted")
        self.new_button = _tool_button("New", "New conversation")
        self.new_button.setToolTip("Start a conversation with a customer (Ctrl+N)")
        self.settings_button = _tool_button("⚙", "Settings")
        self.settings_button.setToolTip("Settings and templates")
        self.switch_button = _tool_button("Switch staff", "Switch staff")
        self.lock_button = _tool_button("Lock", "Lock")
        self.switch_button.setVisible(kiosk)
        self.lock_button.setVisible(kiosk)
        self.account_button = self._account_button()
        self.location = QComboBox()
        self.location.setAccessibleName("Location")
        self.location.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.location.addItem("All locations", None)
        self.search = QLineEdit()
        self.search.setAccessibleName("Search")
        self.search.setPlaceholderText("Search names, phones, messages   Ctrl+F")
        self.search.setClearButtonEnabled(True)
        self.unread_chip = _chip("Unread")
        self.mine_chip = _chip("Mine")
        self.unassigned_chip = _chip("Unassigned")
        self.needs_reply_chip = _chip("Needs reply")
        self.needs_reply_chip.setToolTip(
            "Leads waiting past the location's reply target (a new lead, or a customer's text)"
        )
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Status filter")
        self.status_filter.setObjectName("StatusFilter")
        self.status_filter.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.status_filter.addItem("Any status", None)
        # the labels are in pipeline order (a test holds them to PIPELINE_ORDER): the
        # first frame does not wait for app.core.statuses to import
        for value, label in fmt.PIPELINE_LABELS.items():
            self.status_filter.addItem(label, value)
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        self.leads_view = self._leads_view()
        self.new_pill = NewActivityPill(self.leads_view)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.leads_view)

    def _top_row(self) -> QHBoxLayout:
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
        top.addWidget(self.new_button)
        top.addWidget(self.switch_button)
        top.addWidget(self.lock_button)
        top.addWidget(self.account_button)
        top.addWidget(self.settings_button)
        return top

    def _account_button(self) -> QToolButton:
        """The staff member's menu: switch staff, lock, sign out."""
        button = _tool_button("⋯", "Account menu")
        button.setToolTip("Switch staff, lock, sign out")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.setAccessibleName("Account")
        self.switch_action = menu.addAction("Switch staff…")
        self.lock_action = menu.addAction("Lock")
        self.lock_action.setShortcut("Ctrl+L")  # shown only: the window's shortcut locks
        self.lock_action.setShortcutVisibleInContextMenu(True)
        self.lock_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        menu.addSeparator()
        self.sign_out_action = menu.addAction("Sign out…")
        button.setMenu(menu)
        return button

    def _chips_row(self) -> QHBoxLayout:
        chips = QHBoxLayout()
        chips.setSpacing(6)
        for chip in self.chips[:3]:  # "Needs reply" sits on the count row (room)
            chips.addWidget(chip)
        chips.addStretch(1)
        return chips

    def _count_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.count_label)
        row.addStretch(1)
        row.addWidget(self.needs_reply_chip)
        row.addWidget(self.status_filter)
        return row

    @staticmethod
    def _leads_view() -> OnePassListView:
        view = OnePassListView()
        view.setAccessibleName("Leads")
        view.setItemDelegate(LeadDelegate(view))
        view.setUniformItemSizes(True)
        view.setMouseTracking(True)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setFrameShape(QFrame.Shape.NoFrame)
        return view

    @property
    def chips(self) -> tuple[QPushButton, ...]:
        return self.unread_chip, self.mine_chip, self.unassigned_chip, self.needs_reply_chip

    def set_needs_reply_count(self, count: int) -> None:
        """"Needs reply · 3" (just "Needs reply" with none waiting past the target)."""
        chip = self.needs_reply_chip
        chip.setText(f"Needs reply · {count}" if count else "Needs reply")
        waiting = f", {count} waiting past the target" if count else ""
        chip.setAccessibleName(f"Needs reply filter{waiting}")

    @property
    def lead_delegate(self) -> LeadDelegate:
        delegate = self.leads_view.itemDelegate()
        assert isinstance(delegate, LeadDelegate)
        return delegate

    def show_models(self, leads: QAbstractItemModel, search: QAbstractItemModel) -> None:
        """The lists' models (the search results' view is made when first shown)."""
        self.leads_view.setModel(leads)
        self._search_model = search

    @property
    def results_view(self) -> QListView:
        if self._results_view is None:
            from app.ui.search_delegate import SearchDelegate

            view = self._results_view = QListView()
            view.setAccessibleName("Search results")
            view.setModel(self._search_model)
            view.setItemDelegate(SearchDelegate(view))
            view.setFrameShape(QFrame.Shape.NoFrame)
            view.activated.connect(self.hitEntered)
            view.clicked.connect(self.hitActivated)
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

    def show_list(self, which: QWidget) -> None:
        self.list_stack.setCurrentWidget(which)

    def showing_results(self) -> bool:
        shown = self.list_stack.currentWidget()
        return self._results_view is not None and shown is self._results_view

"""The conversation pane: header, banners, the message thread and the composer
(the thread itself is `thread_view.ThreadView`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.sync.api import LeadDetail, LeadRow
from app.ui import fmt
from app.ui.fmt import hours_label
from app.ui.plain import plain_label
from app.ui.thread_model import ThreadModel
from app.ui.thread_view import ThreadView

if TYPE_CHECKING:
    from app.ui.composer import Composer
    from app.ui.settings import Template


class Banner(QFrame):
    def __init__(self, kind: str, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setProperty("kind", kind)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label = plain_label()  # it shows customers' names and texts
        self.label.setWordWrap(True)
        self.setAccessibleName(accessible)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(16, 8, 12, 8)
        self.row.setSpacing(8)
        self.row.addWidget(self.label, 1)
        self.hide()

    def add_button(self, text: str) -> QPushButton:
        button = keyboard_button(text)
        button.setAccessibleName(text)
        self.row.addWidget(button)
        return button

    def set_text(self, text: str) -> None:
        self.label.setText(text)
        self.label.setAccessibleName(text)
        self.setAccessibleDescription(text)


def keyboard_button(text: str) -> QPushButton:
    """A button that takes the keyboard only when tabbed to: a click leaves the focus
    where the work is, so the next Space or Enter cannot press it again."""
    button = QPushButton(text)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    return button


def empty_state(title: str, text: str) -> QWidget:
    w = QWidget()
    layout = QVBoxLayout(w)
    layout.addStretch(1)
    from app.ui.resources import render_svg

    icon = QLabel()
    icon.setPixmap(render_svg("tray-icon.svg", 56))
    icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
    icon.setEnabled(False)
    t = QLabel(title)
    t.setObjectName("EmptyTitle")
    t.setAlignment(Qt.AlignmentFlag.AlignCenter)
    s = QLabel(text)
    s.setObjectName("EmptyText")
    s.setWordWrap(True)
    s.setAlignment(Qt.AlignmentFlag.AlignCenter)
    layout.addWidget(icon)
    layout.addSpacing(6)
    layout.addWidget(t)
    layout.addWidget(s)
    layout.addStretch(2)
    layout.setContentsMargins(40, 20, 40, 20)
    return w


class ConversationPane(QWidget):
    """Shows one lead's conversation; `ConversationController` gives it its model and
    acts on its signals.

    Until a lead is opened it shows an empty state; the thread page (header, banners,
    thread view, composer) is built on first use (`ensure_built`, which the app calls
    once its first frame has painted), so the window's first frame does without it.
    """

    optOutRequested = Signal(str)  # lead_id: record that the customer asked not to be texted
    dismissRequested = Signal(str)  # lead_id: "not an opt-out", stored for every desktop
    togglePanel = Signal()
    backRequested = Signal()  # one column: the inbox again
    exportRequested = Signal()  # the open conversation, to a file
    typed = Signal()  # a key typed into the composer (others see "… is typing")
    manageSharedRequested = Signal()  # the templates menu's "Manage shared templates…"
    sendRequested = Signal(str)  # the composer's text
    sendLaterRequested = Signal(str, object)  # the composer's text, when (UTC)
    retryRequested = Signal(object)  # ThreadMessage
    discardRequested = Signal(object)
    cancelScheduled = Signal(object)  # ThreadMessage
    editScheduled = Signal(object)

    # the thread page's parts (made by _build_thread_page on first access)
    header: QWidget
    title: QLabel
    subtitle: QLabel
    back_button: QPushButton
    panel_button: QPushButton
    optout_banner: Banner
    possible_banner: Banner
    opted_out_button: QPushButton
    keep_button: QPushButton
    view: ThreadView
    composer: Composer

    _PAGE_PARTS = frozenset(
        {
            "header",
            "title",
            "subtitle",
            "back_button",
            "panel_button",
            "optout_banner",
            "possible_banner",
            "opted_out_button",
            "keep_button",
            "view",
            "composer",
        }
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConversationPane")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.model: ThreadModel | None = None
        self.lead: LeadDetail | None = None
        self._dismissed_possible: set[str] = set()
        self._built = False
        self._templates: list[Template] = []
        self._presence = ""  # colleagues in the open conversation, as worded
        #: the open lead's location's shared templates, and that location's name
        self._shared: tuple[list[Template], str] = ([], "")
        self._one_column = False
        self._details_shown = True
        self.stack = QStackedWidget()
        self.empty = empty_state(
            "No conversation open",
            "Pick a lead on the left to read and answer their texts.\n"
            "Ctrl+K jumps to a lead by name or phone.",
        )
        self.stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes not set yet: the thread page's parts
        if name in ConversationPane._PAGE_PARTS and not self.__dict__.get("_built", True):
            self.ensure_built()
            return getattr(self, name)
        raise AttributeError(name)

    @property
    def built(self) -> bool:
        return self._built

    def show_model(self, model: ThreadModel) -> None:
        """The thread the view will show (set once, before the thread page is built)."""
        self.model = model

    def ensure_built(self) -> None:
        """Build the thread page (once)."""
        if self._built:
            return
        self._built = True
        assert self.model is not None, "show_model() comes first"
        header = self._build_header()
        self._build_banners()
        self._build_thread(self.model)
        thread_page = QWidget()
        tl = QVBoxLayout(thread_page)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(0)
        tl.addWidget(header)
        tl.addWidget(self.optout_banner)
        tl.addWidget(self.possible_banner)
        tl.addWidget(self.view, 1)
        tl.addWidget(self.composer)
        self.stack.addWidget(thread_page)

    def _build_header(self) -> QWidget:
        """The customer's name, who else is here, and the back, export and details buttons."""
        header = self.header = QWidget()
        header.setObjectName("ConversationHeader")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.title = plain_label()
        self.title.setObjectName("HeaderTitle")
        self.subtitle = plain_label()
        self.subtitle.setObjectName("HeaderSubtitle")
        self.presence_label = plain_label()  # colleagues' names
        self.presence_label.setObjectName("Presence")
        self.presence_label.setAccessibleName("Who else is here")
        self.presence_label.setText(self._presence)
        self.presence_label.setVisible(bool(self._presence))
        self._build_header_buttons()
        self.set_layout(one_column=self._one_column, details_shown=self._details_shown)
        titles = QVBoxLayout()
        titles.setSpacing(1)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        titles.addWidget(self.presence_label)
        hrow = QHBoxLayout(header)
        hrow.setContentsMargins(20, 10, 16, 10)
        hrow.addWidget(self.back_button)
        hrow.addLayout(titles, 1)
        hrow.addWidget(self.export_button)
        hrow.addWidget(self.panel_button)
        return header

    def _build_header_buttons(self) -> None:
        self.back_button = keyboard_button("‹ Inbox")
        self.back_button.setAccessibleName("Back to inbox")
        self.back_button.setToolTip("Back to the inbox (Esc or Alt+Left)")
        self.back_button.clicked.connect(self.backRequested)
        self.panel_button = keyboard_button("Details")
        self.panel_button.setCheckable(True)
        self.panel_button.setAccessibleName("Lead details")
        self.panel_button.setToolTip("Show or hide the lead's details (Ctrl+I)")
        self.panel_button.clicked.connect(self.togglePanel)
        self.export_button = keyboard_button("Export…")
        self.export_button.setAccessibleName("Export conversation")
        self.export_button.setToolTip("Save the conversation as PDF or plain text (Ctrl+E)")
        self.export_button.clicked.connect(self.exportRequested)

    def _build_banners(self) -> None:
        self.optout_banner = Banner("danger", "Opt-out notice")
        self.possible_banner = Banner("warning", "Possible opt-out")
        self.opted_out_button = self.possible_banner.add_button("Stop texting them…")
        self.opted_out_button.setAccessibleName("Record opt-out")
        self.keep_button = self.possible_banner.add_button("Dismiss")
        self.keep_button.setAccessibleName("Not an opt-out: dismiss")
        self.opted_out_button.clicked.connect(self._record_opt_out)
        self.keep_button.clicked.connect(self._dismiss_possible)

    def _build_thread(self, model: ThreadModel) -> None:
        """The message list and the composer under it."""
        from app.ui.composer import Composer

        self.view = ThreadView(model)
        self.view.retryRequested.connect(self.retryRequested)
        self.view.discardRequested.connect(self.discardRequested)
        self.view.cancelScheduled.connect(self.cancelScheduled)
        self.view.editScheduled.connect(self.editScheduled)
        self.composer = Composer()
        self.composer.edit.installEventFilter(self)
        self.composer.send.connect(self.sendRequested)
        self.composer.sendLater.connect(self.sendLaterRequested)
        self.composer.set_templates(self._templates)
        self.composer.set_shared_templates(*self._shared)
        self.composer.manageSharedRequested.connect(self.manageSharedRequested)
        # the quiet-hours rule depends on the customer's last message: re-check once loaded
        model.loaded.connect(lambda _fresh: self.composer.refresh_warning())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and self._built
            and watched is self.composer.edit
            and isinstance(event, QKeyEvent)
            and event.text()
        ):
            self.typed.emit()
        return False

    def show_presence(self, text: str) -> None:
        """"Dana is typing…" under the title ("" hides it)."""
        self._presence = text
        if self._built:
            self.presence_label.setText(text)
            self.presence_label.setVisible(bool(text))
            self.presence_label.setAccessibleDescription(text)

    def set_shared_templates(self, templates: list[Template], location_name: str) -> None:
        self._shared = (list(templates), location_name)
        if self._built:
            self.composer.set_shared_templates(templates, location_name)

    def set_templates(self, templates: list[Template]) -> None:
        self._templates = list(templates)
        if self._built:
            self.composer.set_templates(self._templates)

    def submit(self) -> None:
        """Ctrl+Enter: send what the composer holds (nothing before it exists)."""
        if self._built:
            self.composer.submit()

    def refresh_warning(self) -> None:
        if self._built:
            self.composer.refresh_warning()

    def composer_has_focus(self) -> bool:
        return self._built and self.composer.edit.hasFocus()

    def focus_composer(self) -> None:
        """The keyboard to the composer (to the thread while texting is off)."""
        if not self._built or self.stack.currentIndex() != 1:
            return
        target = self.composer.edit if self.composer.edit.isEnabled() else self.view
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_templates(self) -> None:
        """Ctrl+T: the templates menu, from the keyboard."""
        if self._built and self.stack.currentIndex() == 1 and self.composer.isEnabled():
            self.composer.open_templates()

    def header_height(self) -> int:
        """The conversation header's height while a conversation is shown (else 0)."""
        if not self._built or self.stack.currentIndex() != 1:
            return 0
        return int(self.header.height())

    def set_layout(self, *, one_column: bool, details_shown: bool) -> None:
        """The window's layout: a back button in one column; Details checked while the
        lead panel (or its drawer) is shown."""
        self._one_column, self._details_shown = one_column, details_shown
        if self._built:
            self.back_button.setVisible(one_column)
            self.panel_button.setChecked(details_shown)

    def show_row(self, row: LeadRow) -> None:
        """Show the header from an inbox row; show_lead completes it. The composer
        follows the row at once (a reply typed meanwhile goes to this conversation)."""
        self.ensure_built()
        self.stack.setCurrentIndex(1)
        self.title.setText(row.name or fmt.format_phone(row.phone))
        self.subtitle.setText(fmt.format_phone(row.phone))
        if row.opted_out:
            self.composer.set_blocked("Texting is off: the customer opted out.")
        elif row.conversation_sid is None:
            self.composer.set_blocked("This lead has no text conversation yet.")
        else:
            self.composer.set_blocked(None)

    def show_lead(self, lead: LeadDetail | None, *, hours: str | None = None) -> None:
        """The lead's header; `hours`: its location's opening hours, shown beside it."""
        self.lead = lead
        if lead is None:
            self.stack.setCurrentIndex(0)
            return
        self.ensure_built()
        self.stack.setCurrentIndex(1)
        self.title.setText(lead.name or fmt.format_phone(lead.phone))
        parts = [fmt.format_phone(lead.phone), lead.location_name or ""]
        if lead.status == "CLOSED":
            parts.append("Closed" + (f" — {lead.close_reason}" if lead.close_reason else ""))
        opening = hours_label(hours)
        if opening:
            parts.append(opening)
        self.subtitle.setText("  ·  ".join(p for p in parts if p))
        if lead.opted_out:
            self.optout_banner.set_text(
                f"{lead.name or 'This customer'} opted out of text messages. "
                "You can't text them until they text START."
            )
            self.optout_banner.show()
            self.composer.set_blocked(
                "Texting is off: the customer opted out. "
                "Call them instead, or wait for them to text START."
            )
        else:
            self.optout_banner.hide()
            if lead.conversation_sid is None:
                self.composer.set_blocked(
                    "This lead has no text conversation yet "
                    "(it is still being set up by the relay)."
                )
            else:
                self.composer.set_blocked(None)
        show_possible = (
            lead.possible_opt_out
            and not lead.opted_out
            and lead.lead_id not in self._dismissed_possible
        )
        if show_possible:
            self.possible_banner.set_text(
                "This customer may be asking to stop texts. If so, record the opt-out "
                "(nothing more is sent to them); if not, dismiss this for everyone."
            )
        self.possible_banner.setVisible(show_possible)

    def _record_opt_out(self) -> None:
        if self.lead is not None:
            self.optOutRequested.emit(self.lead.lead_id)

    def _dismiss_possible(self) -> None:
        if self.lead is not None:
            # hidden at once; the stored dismissal keeps it hidden here and elsewhere
            self._dismissed_possible.add(self.lead.lead_id)
            self.dismissRequested.emit(self.lead.lead_id)
        self.possible_banner.hide()

"""How the window's panes share its width.

- wide (at least DRAWER_BELOW px): inbox | conversation | lead panel, the panel shown
  or hidden with the conversation's "Details" button;
- narrower: the lead panel becomes a drawer over the conversation's right side,
  opened with "Details" and closed with it or Esc (focus goes into the drawer and
  back to where it was);
- below ONE_COLUMN_BELOW px: the inbox and the conversation take turns in one
  column; opening a conversation shows it, its back button (or Esc) shows the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from PySide6.QtCore import QEvent, QObject, QRect, Qt, Signal
from PySide6.QtWidgets import QApplication, QSplitter, QWidget

#: below this window width the lead panel is a drawer
DRAWER_BELOW = 1280
#: below this window width the inbox and the conversation share one column
ONE_COLUMN_BELOW = 900
#: the panel's width as a column, and the drawer's at most
PANEL_WIDTH = 300
DRAWER_WIDTH = 340


class Mode(Enum):
    WIDE = "wide"
    DRAWER = "drawer"
    ONE_COLUMN = "one_column"


def mode_for(width: int) -> Mode:
    if width < ONE_COLUMN_BELOW:
        return Mode.ONE_COLUMN
    return Mode.DRAWER if width < DRAWER_BELOW else Mode.WIDE


class PaneLayout(QObject):
    """Places the sidebar, the conversation pane and the lead panel for the window's
    width (`fit`), and answers Details, back and Esc."""

    changed = Signal()  # the mode, the drawer or the column shown changed

    def __init__(
        self,
        host: QWidget,
        splitter: QSplitter,
        sidebar: QWidget,
        pane: QWidget,
        *,
        inbox_focus: QWidget,
        focus_pane: Callable[[], None],
        header_height: Callable[[], int],
    ) -> None:
        """`inbox_focus` and `focus_pane` take the keyboard when the column that had it
        gives way; the drawer starts `header_height()` below the top (so the
        conversation's Details button stays in reach)."""
        super().__init__(host)
        self._host = host  # the panel's parent while it is a drawer
        self._splitter = splitter
        self._sidebar = sidebar
        self._pane = pane
        self._inbox_focus = inbox_focus
        self._focus_pane = focus_pane
        self._header_height = header_height
        self._panel: QWidget | None = None
        self.mode = Mode.WIDE
        self.details_wanted = True  # wide: the panel column is shown
        self.drawer_open = False
        self.thread_shown = False  # one column: the conversation, not the inbox
        self.has_lead = False
        self._before_drawer: QWidget | None = None  # focus to give back on close
        # the drawer covers the splitter's area, which banners above it move
        splitter.installEventFilter(self)

    # ------------------------------------------------------------------ state

    @property
    def panel_visible(self) -> bool:
        if not self.has_lead:
            return False
        return self.details_wanted if self.mode is Mode.WIDE else self.drawer_open

    def place_panel(self, panel: QWidget) -> None:
        """The lead panel, once built (LeadPanelController)."""
        self._panel = panel
        self._put_panel()
        self._update()

    def fit(self, width: int) -> None:
        mode = mode_for(width)
        if mode is self.mode:
            return
        self.mode = mode
        self.drawer_open = False
        # one column shows the conversation if the keyboard is in it, else the inbox
        self.thread_shown = self.has_lead and _holds_focus(self._pane)
        self._put_panel()
        self._update()

    def set_has_lead(self, has_lead: bool) -> None:
        self.has_lead = has_lead
        if not has_lead:
            self.drawer_open = False
            self.thread_shown = False
        self._update()

    def lead_opened(self) -> None:
        """A lead was opened to work on: one column shows its conversation."""
        self.has_lead = True
        if self.mode is Mode.ONE_COLUMN:
            self.thread_shown = True
        self._update()

    # ------------------------------------------------------------------ actions

    def toggle_details(self) -> None:
        """The Details button (or Ctrl+I)."""
        if self.mode is Mode.WIDE:
            self.details_wanted = not self.details_wanted
            self._update()
        elif self.drawer_open:
            self.close_drawer()
        elif self.has_lead:
            self._before_drawer = QApplication.focusWidget()
            self.drawer_open = True
            self._update()
            if self._panel is not None:
                self._panel.setFocus(Qt.FocusReason.OtherFocusReason)
                self._panel.focusNextChild()  # its first field

    def close_drawer(self) -> bool:
        """Esc: close an open drawer (True), focus back where it was."""
        if not self.drawer_open:
            return False
        self.drawer_open = False
        self._update()
        before, self._before_drawer = self._before_drawer, None
        if before is not None and _usable(before):
            before.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    def show_inbox(self) -> bool:
        """Back (one column): the inbox instead of the conversation (True if it moved)."""
        if self.mode is not Mode.ONE_COLUMN or not self.thread_shown:
            return False
        self.thread_shown = False
        self.drawer_open = False
        self._update()
        return True

    # ------------------------------------------------------------------ placing

    def _put_panel(self) -> None:
        """The panel as the splitter's third column (wide) or over the host (drawer)."""
        panel = self._panel
        if panel is None:
            return
        if self.mode is Mode.WIDE:
            if panel.parent() is not self._splitter:
                sizes = self._splitter.sizes()
                self._splitter.addWidget(panel)
                self._splitter.setStretchFactor(2, 0)
                if len(sizes) >= 2:
                    rest = max(PANEL_WIDTH, sizes[1] - PANEL_WIDTH)
                    self._splitter.setSizes([sizes[0], rest, PANEL_WIDTH])
            panel.setProperty("drawer", False)
        elif panel.parent() is not self._host:
            panel.setParent(self._host)
            panel.setProperty("drawer", True)
        _repolish(panel)

    def _update(self) -> None:
        one = self.mode is Mode.ONE_COLUMN
        in_sidebar, in_pane = _holds_focus(self._sidebar), _holds_focus(self._pane)
        self._sidebar.setVisible(not one or not self.thread_shown)
        self._pane.setVisible(not one or self.thread_shown)
        # the column that had the keyboard gave way: the other one takes it (Qt would
        # hand it to the next widget in the tab chain: a button nobody aimed at)
        if in_pane and not self._pane.isVisible():
            self._inbox_focus.setFocus(Qt.FocusReason.OtherFocusReason)
        elif in_sidebar and not self._sidebar.isVisible():
            self._focus_pane()
        if self._panel is not None:
            self._panel.setVisible(self.panel_visible)
            if self.mode is not Mode.WIDE:
                self._place_drawer()
                self._panel.raise_()
        self.changed.emit()

    def _place_drawer(self) -> None:
        panel = self._panel
        if panel is None or self.mode is Mode.WIDE:
            return
        area: QRect = self._splitter.geometry()
        area.setTop(area.top() + self._header_height())
        width = min(DRAWER_WIDTH, max(240, area.width() - 48))
        panel.setGeometry(area.right() - width + 1, area.top(), width, area.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._splitter and event.type() in (
            QEvent.Type.Resize,
            QEvent.Type.Move,
        ):
            self._place_drawer()
        return False


def _holds_focus(widget: QWidget) -> bool:
    focused = QApplication.focusWidget()
    return focused is not None and (focused is widget or widget.isAncestorOf(focused))


def _usable(widget: QWidget) -> bool:
    from shiboken6 import isValid

    return isValid(widget) and widget.isVisible() and widget.isEnabled()


def _repolish(widget: QWidget) -> None:
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)

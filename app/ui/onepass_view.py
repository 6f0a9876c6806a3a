"""A list view that paints its visible rows in one Python call per repaint."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect
from PySide6.QtGui import QCursor, QPainter, QPaintEvent
from PySide6.QtWidgets import QListView, QStyleOptionViewItem, QWidget


class OnePassListView(QListView):
    """A QListView whose visible rows are painted in one Python call per paint event.

    QListView paints row by row, calling the (Python) delegate for each: every call
    re-enters the interpreter from C++ and must take the GIL first, and while the
    engine's threads are busy each of those waits up to a switch interval (which made
a repaint of a few rows wait several times longer than it drew). Here one
    Python paintEvent asks the delegate for each visible row: one GIL acquisition per
    repaint. Selection, hover, keyboard and accessibility are QListView's own; only
    the painting loop moved.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A viewport made here already has its Python object. Qt's own would get one
        # on the first viewport() call, and the first QWidget that Qt made and Python
        # sees costs PySide a walk over every lazily loaded widget class to find its
        # type: inside the first paint (paintEvent asks for the viewport).
        self.setViewport(QWidget())

    def paintEvent(self, event: QPaintEvent) -> None:
        model = self.model()
        delegate = self.itemDelegate()
        if model is None or delegate is None or model.rowCount() == 0:
            return
        area = event.rect()
        first = self.indexAt(area.topLeft())
        start = first.row() if first.isValid() else 0
        viewport = self.viewport()
        hover = QModelIndex()
        if viewport.underMouse():
            hover = self.indexAt(viewport.mapFromGlobal(QCursor.pos()))
        selection = self.selectionModel()
        # the current row has the keyboard while the list has it: a ring shows where
        focused_row = self.currentIndex() if self.hasFocus() else QModelIndex()
        paint_row = getattr(delegate, "paint_row", None)
        font = self.font()
        painter = QPainter(viewport)
        try:
            for row in range(start, model.rowCount()):
                index = model.index(row, 0)
                rect = self.visualRect(index)
                if rect.top() > area.bottom():
                    break
                if not rect.intersects(area):
                    continue
                selected = selection is not None and selection.isSelected(index)
                if paint_row is not None:  # LeadDelegate: what it draws, no style option
                    paint_row(painter, rect, index, selected=selected, hover=index == hover,
                              font=font, focused=index == focused_row)
                else:
                    self._paint_styled(painter, rect, index, selected, index == hover)
        finally:
            painter.end()

    def _paint_styled(
        self, painter: QPainter, rect: QRect, index: QModelIndex, selected: bool, hover: bool
    ) -> None:
        """A delegate without `paint_row`: through a style option, as QListView would."""
        from PySide6.QtWidgets import QStyle

        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        option.rect = rect
        state = option.state
        if selected:
            state |= QStyle.StateFlag.State_Selected
        if hover:
            state |= QStyle.StateFlag.State_MouseOver
        if self.hasFocus() and index == self.currentIndex():
            state |= QStyle.StateFlag.State_HasFocus
        option.state = state
        self.itemDelegate().paint(painter, option, index)

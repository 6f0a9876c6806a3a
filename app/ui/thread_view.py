"""The thread: a conversation's messages as bubbles, its context menu and keys,
scrolling that follows new messages, and the photo viewer."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QMenu, QWidget

from app.sync.api import EngineError, MediaItem, ThreadMessage
from app.ui import fmt
from app.ui.bubble_delegate import BubbleDelegate
from app.ui.photo_viewer import PhotoViewer
from app.ui.roles import ROW_ROLE
from app.ui.thread_model import MessageItem, ThreadModel
from app.ui.thumbnails import media_key

__all__ = ["ThreadView"]


class ThreadView(QListView):
    """Bubbles in a list view: only visible rows are painted, so 5,000 messages stay cheap."""

    retryRequested = Signal(object)  # ThreadMessage
    discardRequested = Signal(object)
    photoFailed = Signal(str)
    cancelScheduled = Signal(object)  # ThreadMessage: a text for later
    editScheduled = Signal(object)

    def __init__(self, model: ThreadModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ThreadView")
        self.setAccessibleName("Conversation")
        self.setModel(model)
        self._model = model
        self.delegate = BubbleDelegate(self)
        self.delegate.retryRequested.connect(self.retryRequested)
        self.delegate.thumbnails = model.thumbnails
        self.delegate.photoRequested.connect(self.open_photo)
        model.thumbnails.ready.connect(self._repaint_photo)
        model.thumbnails.failed.connect(self._repaint_photo)
        self.setItemDelegate(self.delegate)
        #: the open photo viewers (kept so they are not collected while shown)
        self.viewers: list[PhotoViewer] = []
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.verticalScrollBar().valueChanged.connect(self._on_scroll)
        model.loaded.connect(self._on_loaded)
        model.rowsAboutToBeInserted.connect(self._remember_position)
        model.rowsInserted.connect(self._on_inserted)
        model.modelAboutToBeReset.connect(self._remember_position)
        self._at_bottom = True
        self._from_bottom = 0

    def _repaint_photo(self, key: str) -> None:
        """A thumbnail came (or failed): only the rows on screen showing it are painted
        again, not the whole thread (a burst of photos would repaint it for each)."""
        model = self._model
        top = self.indexAt(QPoint(1, 1)).row()
        bottom = self.indexAt(QPoint(1, self.viewport().height() - 1)).row()
        last = model.rowCount() - 1 if bottom < 0 else bottom
        for row in range(max(top, 0), last + 1):
            item = model.item_at(row)
            if isinstance(item, MessageItem) and any(
                media_key(m) == key for m in item.message.media
            ):
                self.update(model.index(row))

    def open_photo(self, item: MediaItem) -> None:
        """The photo in a viewer (its file is fetched off the Qt thread first)."""
        self._model.thumbnails.retry_failed()
        self._model.spawn(self._open_photo(item))

    async def _open_photo(self, item: MediaItem) -> None:
        try:
            path = await self._model.thumbnails.source_file(item)
        except EngineError as exc:
            self.photoFailed.emit(exc.message)
            return
        viewer = PhotoViewer(path, item.filename or path.name, self.window())
        viewer.finished.connect(lambda _r, v=viewer: self.viewers.remove(v))
        self.viewers.append(viewer)
        viewer.show()

    def _remember_position(self) -> None:
        bar = self.verticalScrollBar()
        self._at_bottom = bar.value() >= bar.maximum() - 8
        self._from_bottom = bar.maximum() - bar.value()

    def _on_loaded(self, fresh: bool) -> None:
        if fresh or self._at_bottom:
            self.scrollToBottom()
            QTimer.singleShot(0, self, self.scrollToBottom)
        else:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum() - self._from_bottom)

    def _on_inserted(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        """New messages: followed when the thread was at its end (or they are the user's
        own send); someone reading older messages keeps their place."""
        if self._model.follow_insert or self._at_bottom:
            self._model.follow_insert = False
            self.scrollToBottom()
            QTimer.singleShot(0, self, self.scrollToBottom)

    def _on_scroll(self, value: int) -> None:
        if value <= 4 and self._model.has_older:
            self._remember_position()
            self._model.load_older()

    def current_message(self) -> ThreadMessage | None:
        item = self.currentIndex().data(ROW_ROLE)
        return item.message if isinstance(item, MessageItem) else None

    def _menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        item = index.data(ROW_ROLE)
        if not isinstance(item, MessageItem):
            return
        m = item.message
        from PySide6.QtGui import QAction

        menu = QMenu(self)
        copy = QAction("Copy text", menu)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(m.body))
        menu.addAction(copy)
        if m.status == "scheduled":
            cancel = QAction("Cancel (don't send)", menu)
            cancel.triggered.connect(lambda: self.cancelScheduled.emit(m))
            edit = QAction("Edit", menu)
            edit.triggered.connect(lambda: self.editScheduled.emit(m))
            menu.addActions([edit, cancel])
        if m.status in fmt.FAILED_STATUSES:
            retry = QAction("Retry", menu)
            retry.triggered.connect(lambda: self.retryRequested.emit(m))
            menu.addAction(retry)
            if m.outbox_id:
                discard = QAction("Discard", menu)
                discard.triggered.connect(lambda: self.discardRequested.emit(m))
                menu.addAction(discard)
        menu.popup(self.viewport().mapToGlobal(pos))

    def keyPressEvent(self, event: object) -> None:
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and not event.modifiers():
            m = self.current_message()
            if m is not None and event.key() == Qt.Key.Key_R and m.status in fmt.FAILED_STATUSES:
                self.retryRequested.emit(m)
                return
            if m is not None and m.status == "scheduled" and event.key() in _SCHEDULED_KEYS:
                signal = self.editScheduled if event.key() == Qt.Key.Key_E else self.cancelScheduled
                signal.emit(m)
                return
        super().keyPressEvent(event)  # type: ignore[arg-type]


#: keys on a selected text for later: E edits it, Delete cancels it
_SCHEDULED_KEYS = (Qt.Key.Key_E, Qt.Key.Key_Delete)

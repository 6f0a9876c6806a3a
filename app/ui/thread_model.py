"""One conversation's model: messages oldest first with day separators, older pages
on demand (queries as in `leads_model`)."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, QTimer, Signal

from app.sync.api import Engine, ThreadMessage
from app.ui import fmt
from app.ui.roles import AUTHOR_ROLE, ROW_ROLE, Index
from app.ui.tasks import Tasks
from app.ui.thumbnails import ThumbnailStore


class DayItem(NamedTuple):
    day: date


class MessageItem(NamedTuple):
    message: ThreadMessage
    show_author: bool


ThreadItem = DayItem | MessageItem


AUTOMATIC = "Automatic message"


def author_text(m: ThreadMessage, location_name: str = "") -> str:
    """The name above a bubble. The store phone's messages say so; the relay's own
    (greeting, the lead's details to the store, after-hours reply, notices) say they
    are automatic and from which location, never the number they were sent from."""
    if m.author_kind == "system":
        return f"{AUTOMATIC} · {location_name}" if location_name else AUTOMATIC
    if m.author_kind == "store":
        if m.author_name and "store phone" not in m.author_name.lower():
            return f"{m.author_name} · from the store phone"
        return m.author_name or "Store phone"
    return m.author_name or {"customer": "Customer", "staff": "Staff"}.get(m.author_kind, "")


def message_accessible_text(m: ThreadMessage, location_name: str = "") -> str:
    who = {
        "customer": f"{m.author_name or 'Customer'}",
        "store": f"{m.author_name or 'Store'} from the store phone",
        "staff": m.author_name or "Staff",
        "system": f"{AUTOMATIC} from {location_name}" if location_name else AUTOMATIC,
    }.get(m.author_kind, m.author_name)
    status = fmt.STATUS_LABELS.get(m.status, m.status)
    text = f"{who}, {fmt.clock(m.created_at)}: {m.body}"
    if m.status in fmt.FAILED_STATUSES:
        text += (
            f". {status}: {m.error_message or m.error_reason or 'unknown reason'}. Retry available"
        )
    elif m.status == "scheduled":
        text += ". Scheduled: E edits it, Delete cancels it"
    elif status and m.author_kind != "customer":
        text += f". {status}"
    return text


class ThreadModel(QAbstractListModel):
    """One conversation's messages with day separators; older pages on demand."""

    PAGE = 50  # a screenful is ~10 bubbles; older pages load as the view reaches the top
    loaded = Signal(bool)  # True: a fresh conversation (scroll to the end)

    def __init__(self, tasks: Tasks, parent: Any = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._engine: Engine | None = None
        self._sid: str | None = None
        self._messages: list[ThreadMessage] = []
        self._items: list[ThreadItem] = []
        self._generation = 0
        #: a load of the open conversation is running; a reload asked for meanwhile
        #: waits for it (`_reload_again`) instead of starting a second read
        self._loading = False
        self._reload_again = False
        self.has_older = False
        self._loading_older = False
        #: the next rows appended are the user's own: the view scrolls to them
        self.follow_insert = False
        self._location_name = ""  # the conversation's location (automatic messages say it)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(30)
        self._reload_timer.timeout.connect(self._start_reload)
        #: the photos' thumbnails (loaded off the Qt thread; the view repaints on `ready`)
        self.thumbnails = ThumbnailStore(tasks, self)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a task of this thread's (the view's photo opening)."""
        self._tasks.spawn(coro)

    @property
    def conversation_sid(self) -> str | None:
        return self._sid

    @property
    def messages(self) -> list[ThreadMessage]:
        return list(self._messages)

    @property
    def location_name(self) -> str:
        return self._location_name

    def set_location_name(self, name: str) -> None:
        """The open conversation's location, which its automatic messages name."""
        if name == self._location_name:
            return
        self._location_name = name
        if self._items:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._items) - 1, 0),
                [AUTHOR_ROLE, Qt.ItemDataRole.AccessibleTextRole],
            )

    def set_engine(self, engine: Engine | None) -> None:
        self._engine = engine
        self.thumbnails.set_engine(engine)
        self.open(None)

    def open(self, conversation_sid: str | None) -> None:
        if conversation_sid is not None and conversation_sid == self._sid:
            return  # already shown or loading (the inbox row opened it before the lead came)
        self._sid = conversation_sid
        self._generation += 1
        self._reload_timer.stop()  # a reload of the previous conversation is moot
        self._loading = self._reload_again = False
        self.beginResetModel()
        self._messages, self._items = [], []
        self.has_older = False
        self.endResetModel()
        if conversation_sid:
            self._spawn_load(fresh=True)

    def reload(self) -> None:
        if self._sid and not self._reload_timer.isActive():
            self._reload_timer.start()

    @property
    def reload_pending(self) -> bool:
        """A reload was asked for and has not started yet (it waits for more changes,
        or for the load in flight)."""
        return self._reload_timer.isActive() or self._reload_again

    def _start_reload(self) -> None:
        # One read at a time: when changes come faster than a read answers, restarting
        # it for each would drop every answer and the thread would not move at all
        # (and the reads would queue up on the store's reader).
        if self._loading:
            self._reload_again = True
        elif self._sid is not None:
            self._spawn_load(fresh=False)

    def _spawn_load(self, fresh: bool) -> None:
        self._loading = True
        self._tasks.spawn(self._load(self._generation, fresh))

    async def _load(self, generation: int, fresh: bool) -> None:
        try:
            await self._load_once(generation, fresh)
        finally:
            if generation == self._generation:  # (else `open` started another)
                self._loading = False
                if self._reload_again:
                    self._reload_again = False
                    self._spawn_load(fresh=False)

    async def _load_once(self, generation: int, fresh: bool) -> None:
        if self._engine is None or self._sid is None:
            return
        # a reload reads the messages shown and any newer ones: what is on screen stays
        # (the newest `len` alone would drop the oldest bubble for every new one)
        shown = len(self._messages)
        limit = self.PAGE if fresh else shown + self.PAGE
        msgs = list(await self._engine.thread(self._sid, limit=limit))
        if generation != self._generation:
            return
        if fresh:
            self.has_older = len(msgs) >= limit
        elif self.has_older:
            # (with the whole thread shown there is nothing older to leave out, and a
            # new message stamped before the first one shown must still show: Twilio's
            # times have whole seconds, the relay's own sends finer ones)
            msgs = _from_first_shown(msgs, self._messages)
        if self._set_messages(msgs) or fresh:
            self.loaded.emit(fresh)

    def load_older(self) -> None:
        if not self.has_older or self._loading_older or not self._messages or self._sid is None:
            return
        self._loading_older = True
        self._tasks.spawn(self._load_older(self._generation, self._messages[0].created_at))

    async def _load_older(self, generation: int, before: datetime) -> None:
        try:
            if self._engine is None or self._sid is None:
                return
            older = list(await self._engine.thread(self._sid, limit=self.PAGE, before=before))
            if generation != self._generation:
                return
            self.has_older = len(older) >= self.PAGE
            known = {m.local_id for m in self._messages}
            older = [m for m in older if m.local_id not in known]
            if older:
                self._set_messages(older + self._messages)
        finally:
            self._loading_older = False

    def add_local(self, message: ThreadMessage) -> None:
        """Show a just-queued message at once (the engine's next answer replaces it)."""
        if message.conversation_sid != self._sid:
            return
        if any(m.local_id == message.local_id for m in self._messages):
            return
        self.follow_insert = True  # the user's own send: show it even when scrolled up
        self._set_messages([*self._messages, message])

    def _set_messages(self, msgs: Sequence[ThreadMessage]) -> bool:
        """Show `msgs`: rows that stay in place are updated in place and new ones appended,
        so the view lays out only what is new; anything else resets the model (True)."""
        items = build_items(msgs)
        old = self._items
        n = len(old)
        if not n or len(items) < n or not _same_rows(old, items[:n]):
            self.follow_insert = False
            self.beginResetModel()
            self._messages, self._items = list(msgs), items
            self.endResetModel()
            return True
        self._messages, self._items = list(msgs), items[:n]
        for row in (r for r in range(n) if old[r] != items[r]):
            self.dataChanged.emit(self.index(row, 0), self.index(row, 0))
        if len(items) > n:
            self.beginInsertRows(QModelIndex(), n, len(items) - 1)
            self._items = items
            self.endInsertRows()
        return False

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def item_at(self, i: int) -> ThreadItem | None:
        return self._items[i] if 0 <= i < len(self._items) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item_at(index.row())
        if item is None:
            return None
        if role == ROW_ROLE:
            return item
        if isinstance(item, DayItem):
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return fmt.day_label(item.day)
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.message.body
        if role == AUTHOR_ROLE:
            return author_text(item.message, self._location_name)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return message_accessible_text(item.message, self._location_name)
        return None


def _row_key(item: ThreadItem) -> tuple[object, ...]:
    if isinstance(item, DayItem):
        return ("day", item.day)
    return (item.message.local_id, item.message.body, item.show_author)


def _same_rows(old: Sequence[ThreadItem], new: Sequence[ThreadItem]) -> bool:
    """The same rows, each as tall as before (a status may differ: it changes a row's
    text under its bubble, not its height)."""
    return all(_row_key(a) == _row_key(b) for a, b in zip(old, new, strict=True))


def _from_first_shown(
    msgs: list[ThreadMessage], shown: Sequence[ThreadMessage]
) -> list[ThreadMessage]:
    """`msgs` from the first message shown on (older ones stay for `load_older`)."""
    if shown:
        first = shown[0].local_id
        for i, m in enumerate(msgs):
            if m.local_id == first:
                return msgs[i:]
    return msgs


def build_items(msgs: Sequence[ThreadMessage]) -> list[ThreadItem]:
    items: list[ThreadItem] = []
    last_day: date | None = None
    last_author: tuple[str, str] | None = None
    for m in msgs:
        day = fmt.local(m.created_at).date()
        if day != last_day:
            items.append(DayItem(day))
            last_day = day
            last_author = None
        author = (m.author_kind, m.author_name)
        items.append(MessageItem(m, show_author=author != last_author))
        last_author = author
    return items

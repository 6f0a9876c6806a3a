"""The inbox's model: leads, most recent activity first, a page at a time.

Every query is an engine coroutine (its SQLite work runs off the Qt thread); the
model starts it as a task and applies the answer on the Qt thread. A generation
counter drops answers that arrive after a newer request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, QTimer, Signal

from app.sync.api import TEXTED_IN, Engine, LeadFilter, LeadRow
from app.ui import fmt
from app.ui.plain import tooltip
from app.ui.roles import LOCATION_ROLE, ROW_ROLE, Index
from app.ui.tasks import Tasks


async def _format_phones_off_qt_thread(rows: list[LeadRow]) -> None:
    """New numbers' display forms made on a worker thread, not in the paint that
    shows them (the rows of a burst of new leads: each a phonenumbers parse)."""
    todo = fmt.phones_to_format(r.phone for r in rows)
    if todo:
        import asyncio  # (not on the first frame's path)

        await asyncio.to_thread(fmt.format_phones, todo)


def lead_accessible_text(
    row: LeadRow, now: datetime | None = None, location_name: str = ""
) -> str:
    parts = [
        row.name or "Unknown customer",
        "texted in" if row.source == TEXTED_IN else "",
        location_name,
        fmt.format_phone(row.phone),
        fmt.PIPELINE_LABELS.get(row.pipeline_status, row.pipeline_status),
    ]
    if row.status == "CLOSED":
        parts.append("closed")
    if row.last_message_preview:
        parts.append(row.last_message_preview)
    parts.append(fmt.relative_time(row.last_activity_at, now))
    if row.unread:
        parts.append(f"{row.unread} unread")
    parts.append(f"assigned to {row.assignee_name}" if row.assignee_name else "unassigned")
    if row.awaiting_first_reply_since:
        parts.append(
            f"waiting {fmt.waiting_time(row.awaiting_first_reply_since, now)} for a first reply"
        )
    if row.opted_out:
        parts.append("opted out")
    return ", ".join(p for p in parts if p)


class LeadsModel(QAbstractListModel):
    """The inbox: most recent activity first, loaded a page at a time."""

    PAGE = 100
    loaded = Signal()  # a reload finished (rows replaced)
    countChanged = Signal(int)
    #: while held (set_held): how many leads the fresh order would bring up
    heldChanged = Signal(int)

    #: a burst of engine changes becomes at most one reload per this many ms: each
    #: reload re-reads and repaints the visible rows, so more would only cost the UI
    COALESCE_MS = 100
    #: while changes keep streaming in (a refresh less than BURST_WINDOW_MS ago), the
    #: inbox refreshes four times a second: still live, at a third of the repaints
    BURST_COALESCE_MS = 250
    BURST_WINDOW_MS = 500

    def __init__(self, tasks: Tasks, parent: Any = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._engine: Engine | None = None
        #: location id -> the name a row shows and says (the inbox mixes locations)
        self._location_names: dict[str, str] = {}
        self._rows: list[LeadRow] = []
        self._total = 0
        self._filter = LeadFilter()
        self._generation = 0
        self._fetching = False
        self._inflight = False
        self._dirty = False
        self._cached = False  # rows read from the store at start-up, not by the engine
        self._last_reload = 0.0  # time.monotonic() of the last refresh started
        self._counted = False  # total is the engine's count (not a page's length)
        self._inflight_filter = self._filter
        self._shown_filter: LeadFilter | None = None  # the filter of the rows shown
        self._held = False
        self._held_moved: set[str] = set()
        self._held_reordered = False
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(self.COALESCE_MS)
        self._reload_timer.timeout.connect(self._start_reload)

    # ---- configuration

    def set_engine(self, engine: Engine | None) -> None:
        keep = engine is not None and self._engine is None and self._cached
        self._engine = engine
        if not keep:  # the stored first page stays until the engine's first answer
            self.beginResetModel()
            self._rows, self._total, self._cached = [], 0, False
            self.endResetModel()
        self.reload(now=True)

    def show_cached(self, rows: Sequence[LeadRow], total: int) -> None:
        """Rows read from the store at start-up, shown until the engine answers."""
        if self._engine is not None or self._rows or not rows:
            return
        self.beginResetModel()
        self._rows, self._total, self._cached = list(rows), max(total, len(rows)), True
        self.endResetModel()
        self.countChanged.emit(self._total)

    @property
    def shown_filter(self) -> LeadFilter | None:
        """The filter the rows on screen answer (None before the first answer)."""
        return self._shown_filter

    @property
    def cached(self) -> bool:
        return self._cached

    @property
    def counted(self) -> bool:
        """The rows and their total are both the engine's latest answer."""
        return self._counted and not self._cached

    @property
    def filter(self) -> LeadFilter:
        return self._filter

    def set_filter(self, new: LeadFilter) -> None:
        if new != self._filter:
            self._filter = new
            self.reload(now=True)

    def update_filter(self, **changes: Any) -> None:
        self.set_filter(replace(self._filter, **changes))

    def reload(self, now: bool = False) -> None:
        if now:
            self._reload_timer.stop()
            self._start_reload()
        elif not self._reload_timer.isActive():
            busy = time.monotonic() - self._last_reload < self.BURST_WINDOW_MS / 1000
            self._reload_timer.start(self.BURST_COALESCE_MS if busy else self.COALESCE_MS)

    def _start_reload(self) -> None:
        self._last_reload = time.monotonic()
        self._generation += 1
        if self._inflight and self._inflight_filter == self._filter:
            # one query at a time: a burst of changes must not queue reloads in the engine
            self._dirty = True
            return
        self._spawn_reload()

    def _spawn_reload(self) -> None:
        self._inflight, self._dirty = True, False
        self._inflight_filter = self._filter
        self._tasks.spawn(self._reload(self._generation))

    async def _reload(self, generation: int) -> None:
        try:
            await self._reload_once(generation)
        finally:
            self._inflight = False
            if self._dirty:
                self._spawn_reload()

    async def _reload_once(self, generation: int) -> None:
        engine = self._engine
        if engine is None:
            return
        want = max(self.PAGE, len(self._rows)) if not self._cached else self.PAGE
        flt = self._filter
        rows = list(await engine.list_leads(flt, 0, want))
        await _format_phones_off_qt_thread(rows)
        if (generation != self._generation and not self._dirty) or flt != self._filter:
            return
        # the rows first, the count after: the first page paints without waiting for
        # a COUNT over every lead (until it comes, the total is what is known)
        known = self._total if not self._cached else 0
        if self._held and self._rows and not self._cached and flt == self._shown_filter:
            self._update_in_place(rows)
        else:
            self._replace_rows(rows, flt)
            self._total = max(len(rows), known if len(rows) >= want else len(rows))
        self.loaded.emit()
        total = await engine.count_leads(flt)
        if flt != self._filter or self._cached:
            return
        self._total = max(total, len(self._rows))
        self._counted = True
        self.countChanged.emit(self._total)

    def _replace_rows(self, rows: list[LeadRow], flt: LeadFilter) -> None:
        self.beginResetModel()
        self._rows, self._cached, self._counted = rows, False, False
        self._shown_filter = flt
        self._fetching = False
        self.endResetModel()
        if self._held_moved or self._held_reordered:
            self._held_moved, self._held_reordered = set(), False
            self.heldChanged.emit(0)

    def _update_in_place(self, rows: list[LeadRow]) -> None:
        """Held: the rows keep their places and take their fresh data (held_order)."""
        from app.ui.held_order import held_update

        update = held_update(self._rows, rows)
        self._rows = update.rows
        self._counted = False
        self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))
        self._held_reordered = self._held_reordered or update.reordered
        if not update.moved <= self._held_moved:
            self._held_moved |= update.moved
            self.heldChanged.emit(len(self._held_moved))

    # ---- holding still

    @property
    def held(self) -> bool:
        return self._held

    @property
    def held_count(self) -> int:
        """Leads the held order keeps down (the "3 new" pill)."""
        return len(self._held_moved)

    def set_held(self, held: bool) -> None:
        """Hold the rows' order (refreshes update them in place), or let the new order
        in (at once, if a refresh came while held)."""
        if held == self._held:
            return
        self._held = held
        pending = self._held_moved or self._held_reordered
        if not held and pending and self._engine is not None:
            self.reload()  # (coalesced: the pointer may be back a moment later)

    def apply_new_order(self) -> None:
        """The "3 new" pill: the new order now, even while held."""
        if self._held_moved or self._held_reordered:
            self._held_moved, self._held_reordered = set(), False
            self.heldChanged.emit(0)
            self._shown_filter = None  # the next answer replaces the rows
            self.reload(now=True)

    # ---- lazy paging

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._fetching and len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        self._tasks.spawn(self._fetch_more(self._generation, len(self._rows)))

    async def _fetch_more(self, generation: int, offset: int) -> None:
        engine = self._engine
        if engine is None:
            return
        try:
            rows = list(await engine.list_leads(self._filter, offset, self.PAGE))
            await _format_phones_off_qt_thread(rows)
        finally:
            if generation == self._generation:
                self._fetching = False
        if generation != self._generation or offset != len(self._rows) or not rows:
            return
        self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    # ---- model

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    @property
    def total(self) -> int:
        return self._total

    def row_at(self, i: int) -> LeadRow | None:
        return self._rows[i] if 0 <= i < len(self._rows) else None

    def index_of(self, lead_id: str) -> int:
        for i, row in enumerate(self._rows):
            if row.lead_id == lead_id:
                return i
        return -1

    def index_of_name(self, name: str) -> int:
        for i, row in enumerate(self._rows):
            if row.name == name:
                return i
        return -1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row())
        if row is None:
            return None
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name
        if role == LOCATION_ROLE:
            return self._location_names.get(row.location_id, "")
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            text = lead_accessible_text(
                row, location_name=self._location_names.get(row.location_id, "")
            )
            return tooltip(text) if role == Qt.ItemDataRole.ToolTipRole else text
        return None

    def set_location_names(self, names: dict[str, str]) -> None:
        """Rows name their location from now on (`{}`: they do not); views repaint and
        screen readers are told."""
        if names == self._location_names:
            return
        self._location_names = dict(names)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._rows) - 1, 0),
                [LOCATION_ROLE, Qt.ItemDataRole.AccessibleTextRole],
            )

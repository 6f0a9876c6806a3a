"""The search results' model: the engine's full-text hits for one query."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, Signal

from app.sync.api import MATCH_END, MATCH_START, Engine, SearchHit
from app.ui.plain import tooltip
from app.ui.roles import ROW_ROLE, Index
from app.ui.tasks import Tasks


def strip_marks(snippet: str) -> str:
    return snippet.replace(MATCH_START, "").replace(MATCH_END, "")


class SearchModel(QAbstractListModel):
    searched = Signal(str, int)  # query, hits

    def __init__(self, tasks: Tasks, parent: Any = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._engine: Engine | None = None
        self._hits: list[SearchHit] = []
        self._generation = 0
        self.query = ""

    def set_engine(self, engine: Engine | None) -> None:
        self._engine = engine
        self.search("")

    def search(self, query: str) -> None:
        self.query = query.strip()
        self._generation += 1
        if not self.query:
            self._set([])
            return
        self._tasks.spawn(self._search(self._generation, self.query))

    async def _search(self, generation: int, query: str) -> None:
        if self._engine is None:
            return
        hits = list(await self._engine.search(query, limit=50))
        if generation != self._generation:
            return
        self._set(hits)
        self.searched.emit(query, len(hits))

    def _set(self, hits: list[SearchHit]) -> None:
        self.beginResetModel()
        self._hits = hits
        self.endResetModel()

    def hit_at(self, i: int) -> SearchHit | None:
        return self._hits[i] if 0 <= i < len(self._hits) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        hit = self.hit_at(index.row())
        if hit is None:
            return None
        if role == ROW_ROLE:
            return hit
        if role == Qt.ItemDataRole.DisplayRole:
            return hit.title
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            text = f"{hit.title}: {strip_marks(hit.snippet)}"
            return tooltip(text) if role == Qt.ItemDataRole.ToolTipRole else text
        return None

"""Who waits for a reply, kept up to date piece by piece (no Qt; `Escalations` runs it).

The engine answers for every lead once (`Engine.waiting_for_reply()`), then for the
leads that changes name (`waiting_for_reply(among)`): `WaitBook.update` replaces
what it knew of exactly those. Which waits passed their target is found from a heap
ordered by due time, so that a check costs the changed leads and the waits that came
due since the last one, not every lead that waits.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.sync.api import ChangesApplied, WaitingLead


@dataclass
class Scope:
    """The leads some changes name: by lead, conversation or location."""

    lead_ids: set[str] = field(default_factory=set)
    conversation_sids: set[str] = field(default_factory=set)
    location_ids: set[str] = field(default_factory=set)

    def add(self, ev: ChangesApplied) -> None:
        self.lead_ids |= ev.lead_ids
        self.conversation_sids |= ev.conversation_sids | ev.thread_sids
        self.location_ids |= ev.location_ids

    def __bool__(self) -> bool:
        return bool(self.lead_ids or self.conversation_sids or self.location_ids)

    @property
    def size(self) -> int:
        return len(self.lead_ids) + len(self.conversation_sids) + len(self.location_ids)

    def as_changes(self) -> ChangesApplied:
        return ChangesApplied(
            lead_ids=frozenset(self.lead_ids),
            conversation_sids=frozenset(self.conversation_sids),
            location_ids=frozenset(self.location_ids),
        )


class WaitBook:
    """The current waits by lead, which are past their target, and which of those
    were notified (a wait is one lead from one moment: notified once)."""

    def __init__(self) -> None:
        self._waits: dict[str, WaitingLead] = {}
        self._by_thread: dict[str, set[str]] = {}
        self._due: set[str] = set()
        self._notified: set[tuple[str, datetime]] = set()
        #: (due at, tie-breaker, wait): entries of replaced waits are skipped
        self._upcoming: list[tuple[datetime, int, WaitingLead]] = []
        self._seq = itertools.count()

    @property
    def due_count(self) -> int:
        return len(self._due)

    def replace_all(self, waits: Sequence[WaitingLead]) -> None:
        for lead_id in list(self._waits):
            self._drop(lead_id)
        self._upcoming.clear()
        for w in waits:
            self._put(w)

    def update(self, scope: Scope, waits: Sequence[WaitingLead]) -> None:
        """`waits`: the engine's answer for `scope`; its other leads wait no more."""
        now_waiting = {w.lead_id: w for w in waits}
        for lead_id in self._in_scope(scope):
            if lead_id not in now_waiting:
                self._drop(lead_id)
        for w in waits:
            old = self._waits.get(w.lead_id)
            if old != w:
                if old is not None:
                    self._drop(w.lead_id, keep_notified=old.waiting_since == w.waiting_since)
                self._put(w)

    def came_due(self, now: datetime) -> list[WaitingLead]:
        """The waits past their target by `now` that were not notified yet (and are
        now noted as notified), longest first."""
        fresh: list[WaitingLead] = []
        heap = self._upcoming
        while heap and heap[0][0] <= now:
            _, _, w = heapq.heappop(heap)
            if self._waits.get(w.lead_id) is not w:
                continue  # replaced or ended since
            self._due.add(w.lead_id)
            key = (w.lead_id, w.waiting_since)
            if key not in self._notified:
                self._notified.add(key)
                fresh.append(w)
        return sorted(fresh, key=lambda w: w.waiting_since)

    def next_due_at(self) -> datetime | None:
        heap = self._upcoming
        while heap and self._waits.get(heap[0][2].lead_id) is not heap[0][2]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _in_scope(self, scope: Scope) -> Iterable[str]:
        found = {i for i in scope.lead_ids if i in self._waits}
        for sid in scope.conversation_sids:
            found |= self._by_thread.get(sid, set())
        if scope.location_ids:
            found |= {i for i, w in self._waits.items() if w.location_id in scope.location_ids}
        return found

    def _put(self, w: WaitingLead) -> None:
        self._waits[w.lead_id] = w
        if w.conversation_sid:
            self._by_thread.setdefault(w.conversation_sid, set()).add(w.lead_id)
        heapq.heappush(self._upcoming, (w.due_at, next(self._seq), w))
        if len(self._upcoming) > 2 * len(self._waits) + 64:  # replaced entries pile up
            waits = self._waits
            self._upcoming = [e for e in self._upcoming if waits.get(e[2].lead_id) is e[2]]
            heapq.heapify(self._upcoming)

    def _drop(self, lead_id: str, *, keep_notified: bool = False) -> None:
        w = self._waits.pop(lead_id, None)
        if w is None:
            return
        self._due.discard(lead_id)
        if not keep_notified:  # a wait that ended is forgotten: the lead may wait again
            self._notified.discard((lead_id, w.waiting_since))
        if w.conversation_sid:
            leads = self._by_thread.get(w.conversation_sid, set())
            leads.discard(lead_id)
            if not leads:
                self._by_thread.pop(w.conversation_sid, None)

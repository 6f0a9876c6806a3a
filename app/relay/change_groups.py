"""Group commit: concurrent appends to one location written as one log item.

Concurrent writers of one location (threads of this process) are queued; one of
them writes everything queued so far as ONE group item under ONE seq, while
every caller still returns only once its changes are stored. Writers of one
location never race each other inside a process, so the head they remember
stays exact. The changes of one `append` call always share one item, so they
are seen together (unless they are too big for one item). A reader expands a
group item into its changes in order; a page never splits a group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.relay.change_records import Change, change_json, check_entities, group_attributes
from app.relay.change_table import LogTable

#: bounds of one group item (DynamoDB items are at most 400 KB)
GROUP_MAX_CHANGES = 100
GROUP_MAX_BYTES = 300_000


@dataclass(eq=False)
class _Waiter:
    """One `append` call queued for its location's group commit."""

    changes: list[str]  # each change as its JSON text
    event: threading.Event = field(default_factory=threading.Event)
    state: str = "waiting"  # waiting -> lead (promoted) | done
    seqs: list[int] = field(default_factory=list)
    error: BaseException | None = None

    def result(self) -> list[int]:
        if self.error is not None:
            raise self.error
        return self.seqs


class GroupCommit:
    """Appends to `table`, grouped per location; `announce(location, last_seq)` is
    called once a group is stored (after the lead is handed on)."""

    def __init__(self, table: LogTable, announce: Callable[[str, int], None]) -> None:
        self._table = table
        self._announce = announce
        self._lock = threading.Lock()
        self._queues: dict[str, list[_Waiter]] = {}  # location -> waiting appends

    def append(self, location_id: str, changes: Sequence[Change]) -> list[int]:
        """Record `changes` of one location, together with whatever other threads are
        appending to that location right now: one put for the lot. Returns once
        they are stored: the seq of each change (equal for changes sharing an
        item). Raises what the write raised (every caller of a failed group does).
        """
        check_entities(changes)
        if not changes:
            return []
        me = _Waiter([change_json(change) for change in changes])
        with self._lock:
            queue = self._queues.setdefault(location_id, [])
            queue.append(me)
            leader = len(queue) == 1  # nobody is writing this location: lead
        if not leader:
            me.event.wait()
            if me.state == "done":
                return me.result()
        self._lead(location_id, me)
        return me.result()

    def _lead(self, location_id: str, me: _Waiter) -> None:
        """Write the front of the queue (`me`'s changes first), then hand the lead to
        the next waiter, so no caller ever writes more than one group."""
        with self._lock:
            queue = self._queues[location_id]
            batch = _take_group(queue)
        written: list[int] = []
        try:
            for waiter, seq in self._write_groups(location_id, batch):
                waiter.seqs.append(seq)
                written.append(seq)
        except BaseException as exc:  # every caller of the group gets the failure
            for waiter in batch:
                waiter.error = exc
        with self._lock:
            del queue[: len(batch)]
            if queue:
                queue[0].state = "lead"
                queue[0].event.set()
            else:
                del self._queues[location_id]
        for waiter in batch:
            waiter.state = "done"
            if waiter is not me:
                waiter.event.set()
        if written:  # after the group is handed on: listeners never hold up appends
            self._announce(location_id, max(written))

    def _write_groups(self, location_id: str, batch: list[_Waiter]) -> list[tuple[_Waiter, int]]:
        """Store the batch's changes as group items (one unless they are too big for
        one item); returns (waiter, seq) for each change, in order."""
        out: list[tuple[_Waiter, int]] = []
        for members in _split_items(batch):
            seq = self._table.put_next(location_id, group_attributes([c for _, c in members]))
            out.extend((waiter, seq) for waiter, _ in members)
        return out


def _split_items(batch: list[_Waiter]) -> list[list[tuple[_Waiter, str]]]:
    """The batch's changes cut into items within the group bounds, in order; one
    waiter's changes stay in one item when they fit in one."""
    items: list[list[tuple[_Waiter, str]]] = [[]]
    size = 0
    for waiter in batch:
        need = sum(len(c) + 1 for c in waiter.changes)
        if items[-1] and size + need > GROUP_MAX_BYTES:
            items.append([])
            size = 0
        for change in waiter.changes:
            if items[-1] and (
                size + len(change) > GROUP_MAX_BYTES or len(items[-1]) >= GROUP_MAX_CHANGES
            ):
                items.append([])
                size = 0
            items[-1].append((waiter, change))
            size += len(change) + 1
    return items


def _take_group(queue: list[_Waiter]) -> list[_Waiter]:
    """The waiters at the front of a queue that go into one write (at least one)."""
    taken: list[_Waiter] = []
    count = 0
    for waiter in queue:
        if taken and count + len(waiter.changes) > GROUP_MAX_CHANGES:
            break
        taken.append(waiter)
        count += len(waiter.changes)
    return taken

"""Per-location change log: the feed behind `GET /v1/changes` and `GET /v1/stream`.

`ChangeLog` is what the relay writes through and reads from. Its parts:

- `change_table.LogTable`: the table, sequence numbers without a counter (an
  append is one conditional put at the known head + 1; the log has no holes),
  and the heads (`heads`: has a location moved since seq k?);
- `change_groups.GroupCommit`: concurrent appends to one location in this
  process written as one group item under one seq;
- `change_records`: the items' format, the records and pages readers get, and
  the cursor (a map location -> last delivered seq, opaque base64url JSON).

Reading merges the locations' runs by write time; a page never splits a group
item (the cursor is per seq): a page holds at most `limit` changes, except that
a single group bigger than `limit` is delivered whole. Inside a group, every
change but the last carries the cursor *before* the group as its event id, so a
stream resumed from one of them gets the whole group again (receivers ignore
versions they already have).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from app.relay.change_groups import GroupCommit
from app.relay.change_records import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Change,
    ChangeRecord,
    ChangesPage,
    CursorExpired,
    change_attributes,
    changes_of,
    check_entities,
    cursor_time,
    decode_cursor,
    encode_cursor,
    item_at,
    item_seq,
)
from app.relay.change_table import LogTable

log = logging.getLogger("app.relay.changes")

#: changes one TransactWriteItems may put
_TRANSACTION_ITEMS = 100


class ChangeLog:
    """The change log table (a plain boto3 low-level client taking attribute-value
    dicts, e.g. `Tables.client`; not a resource's `meta.client`; thread-safe)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        retention_s: float = 0.0,
    ) -> None:
        self.table = LogTable(client, table_name, clock=clock, retention_s=retention_s)
        self._groups = GroupCommit(self.table, self._announce)
        self._appended: list[Callable[[str, int], None]] = []

    @property
    def table_name(self) -> str:
        return self.table.table_name

    def on_appended(self, listener: Callable[[str, int], None]) -> None:
        """Call `listener(location_id, last_seq)` after each append through this object
        is stored (from the appending thread), so this process's streams need not
        wait for their next poll to see it. A failing listener never fails an append.
        """
        self._appended.append(listener)

    def _announce(self, location_id: str, seq: int) -> None:
        for listener in list(self._appended):
            try:
                listener(location_id, seq)
            except Exception:  # a stream's wake-up is an optimisation; the poll remains
                log.exception("change listener failed")

    # -- heads ------------------------------------------------------------------------

    def head(self, location_id: str) -> int:
        """The location's highest seq in the table (0: empty), read consistently."""
        return self.table.head(location_id)

    def heads(self, locations: Iterable[str]) -> dict[str, int]:
        """The current head of each location (see `LogTable.heads`)."""
        return self.table.heads(locations)

    def latest_cursor(self, locations: Iterable[str]) -> str:
        """A cursor at the current end of each location's log (skip history)."""
        return encode_cursor(self.heads(locations), self._read_time())

    # -- writing ----------------------------------------------------------------------

    def append(self, location_id: str, changes: Sequence[Change]) -> list[int]:
        """Record `changes` (entity, entity_id, version, data) of one location, grouped
        with whatever other threads append to it right now (`GroupCommit.append`)."""
        return self._groups.append(location_id, changes)

    def record(
        self,
        location_id: str,
        entity: str,
        entity_id: str,
        version: int,
        data: dict[str, Any],
    ) -> int:
        """Append one change as its own item (not grouped); returns its seq."""
        check_entities([(entity,)])
        return self.table.put_next(location_id, change_attributes(entity, entity_id, version, data))

    def record_many(self, location_id: str, changes: Sequence[Change]) -> list[int]:
        """Append several changes of one location under consecutive seqs, all or none
        per 100 (one transaction of conditional puts each)."""
        check_entities(changes)
        if not changes:
            return []
        if len(changes) == 1:
            return [self.record(location_id, *changes[0])]
        seqs: list[int] = []
        for start in range(0, len(changes), _TRANSACTION_ITEMS):
            chunk = changes[start : start + _TRANSACTION_ITEMS]
            attributes = [change_attributes(*change) for change in chunk]
            seqs.extend(self.table.put_consecutive(location_id, attributes))
        return seqs

    # -- reading ----------------------------------------------------------------------

    def read(
        self,
        locations: Sequence[str],
        cursor: str | None,
        limit: int = DEFAULT_LIMIT,
        *,
        only: Iterable[str] | None = None,
    ) -> ChangesPage:
        """Changes after `cursor` for `locations`, merged; at most `limit` changes.

        `only`: query just these locations (the others keep their position in
        the returned cursor): a stream skips the locations it knows are idle.
        `CursorExpired` when a non-empty cursor points before what the log keeps.
        """
        limit = max(1, min(int(limit), MAX_LIMIT))
        start = decode_cursor(cursor)
        read_at = cursor_time(cursor) if start else None
        positions = {loc: start.get(loc, 0) for loc in locations}
        wanted = set(locations) if only is None else set(only) & set(locations)
        runs: dict[str, list[dict[str, Any]]] = {}
        more: dict[str, bool] = {}
        for loc in locations:
            if loc in wanted:
                runs[loc], more[loc] = self._run(
                    loc, positions[loc], limit, resumed=bool(start), read_at=read_at)
        now_ms = self._read_time()
        out, heap = self._merge(runs, positions, limit, now_ms)
        has_more = bool(heap) or any(more.values())
        if not out and cursor and positions == start:
            return ChangesPage(out, cursor, has_more)  # nothing new: the same cursor
        return ChangesPage(out, encode_cursor(positions, now_ms), has_more)

    def _read_time(self) -> int | None:
        """The time a cursor carries (only a log with a retention checks it)."""
        return int(self.table.now_ms()["N"]) if self.table.retention_s else None

    def _run(
        self, location_id: str, after: int, limit: int, *, resumed: bool, read_at: int | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """The location's items after seq `after` (at most `limit + 1`), and whether more
        exist. A `resumed` reader (non-empty cursor) must find the item after `after`
        kept (or, from 0, the log's start): otherwise it missed changes the log no
        longer holds, and `CursorExpired` says so. With nothing after `after`, the
        position is the head, unless its item is gone and the cursor was read longer
        than the retention ago (then what came after it may be gone too)."""
        if not (resumed and self.table.retention_s):
            return self.table.query(location_id, after, limit + 1)
        items, more = self.table.query(location_id, max(after - 1, 0), limit + 2)
        mine = items[0] if items and after and item_seq(items[0]) == after else None
        rest = items[1:] if mine is not None else items
        if rest:
            first = rest[0]
            joined = item_seq(first) == after + 1 or (after == 0 and "First" in first)
            if joined and not self.table.expired(first):
                return rest, more
        elif not after or (mine is not None and not self.table.expired(mine)) or (
            read_at is not None
            and read_at + self.table.retention_s * 1000 > int(self.table.now_ms()["N"])
        ):
            return rest, more
        raise CursorExpired(
            f"the cursor is older than the change log's retention for {location_id}")

    @staticmethod
    def _merge(
        runs: dict[str, list[dict[str, Any]]], positions: dict[str, int], limit: int,
        now_ms: int | None,
    ) -> tuple[list[ChangeRecord], list[tuple[int, int, str, int]]]:
        """k-way merge of the runs by write time (each location's run stays in seq
        order, so the cursor of every location always covers a prefix of its log);
        moves `positions` on; the records and what is left on the heap."""
        heap: list[tuple[int, int, str, int]] = []
        for loc, run in runs.items():
            if run:
                heap.append((item_at(run[0]), item_seq(run[0]), loc, 0))
        heapq.heapify(heap)
        out: list[ChangeRecord] = []
        while heap and len(out) < limit:
            entry = heapq.heappop(heap)
            _, seq, loc, idx = entry
            item = runs[loc][idx]
            changes = changes_of(item)
            if out and len(out) + len(changes) > limit:
                heapq.heappush(heap, entry)  # a group is never split: next page
                break
            before = (encode_cursor({**positions, loc: seq - 1}, now_ms)
                      if len(changes) > 1 else "")
            positions[loc] = seq
            after = encode_cursor(positions, now_ms)
            for i, (entity, entity_id, version, data) in enumerate(changes):
                out.append(ChangeRecord(
                    location_id=loc, seq=seq, entity=entity, entity_id=entity_id,
                    version=version, data=data, at_ms=item_at(item),
                    cursor_after=after if i == len(changes) - 1 else before,
                ))
            if idx + 1 < len(runs[loc]):
                nxt = runs[loc][idx + 1]
                heapq.heappush(heap, (item_at(nxt), item_seq(nxt), loc, idx + 1))
        return out, heap


def record_changes(log: ChangeLog, location_id: str, changes: Sequence[Change]) -> list[int]:
    """Append several changes (entity, entity_id, version, data) of one location at once,
    each under its own seq, in one transaction per 100."""
    return log.record_many(location_id, changes)

"""Per-location change log: the feed behind `GET /v1/changes` and `GET /v1/stream`.

Table `{P}_Web2Text_ChangeLog`: hash `LocationId` (S), range `Seq` (N).

- `Seq = 0` of each location is its counter item (`NextSeq`), bumped with an
  atomic `UpdateItem ADD`, so every change of a location gets a unique,
  increasing sequence number from any relay instance.
- `Seq >= 1` are change items: `Entity`, `EntityId`, `Version`, `Data` (the
  entity's full view as a JSON string), `At` (epoch ms when written).

The counter-then-put race
-------------------------
Two writers take seq 5 and 6; 6 lands first. A reader that advanced its cursor
to 6 would never see 5. And a writer that crashes between the counter and the
put leaves seq 5 empty for ever. So:

* A reader only ever delivers a *contiguous* prefix of a location's log: it
  stops at the first missing seq (a *hole*) and its cursor stays before it.
* A hole followed by an item written more than `hole_grace` ago (default 2 s)
  is **sealed**: the reader puts a `gap` item into it with
  `attribute_not_exists`, then continues past it. Writers put their change
  with the same condition, so a late writer whose seq was sealed fails and
  simply takes a new seq. Whoever wins the conditional put decides: either the
  change is in the hole (and is delivered) or it is re-written later with a
  higher seq. No change is lost and none is skipped, whatever the clocks say;
  the grace period only trades latency after a crashed writer against extra
  writes by slow ones.

Group commit
------------
`ChangeLog.append` is what the relay writes through. Concurrent writers of one
location (threads of this process) are queued; one of them writes everything
queued so far as ONE item (`Entity = "group"`, `Changes` = a JSON list of
[entity, id, version, data]) under ONE seq: one counter update and one
conditional put for many changes instead of two calls per change (or a
transaction per batch), while every caller still returns only once its changes
are stored. The changes of one `append` call always share one item, so they
are seen together. A reader expands a group item into its changes in order;
a page never splits a group (the cursor is per seq): a page holds at most
`limit` changes, except that a single group bigger than `limit` is delivered
whole. Inside a group, every change but the last carries the cursor *before*
the group as its event id, so a stream resumed from one of them gets the
whole group again (receivers ignore versions they already have).

Order between locations does not matter (every change carries the entity's
version and receivers ignore versions they already have), so the cursor is a
map location -> last delivered seq, sent to clients as opaque base64url JSON.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

TABLE_SUFFIX = "Web2Text_ChangeLog"
TABLE_SPEC: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "LocationId", "AttributeType": "S"},
        {"AttributeName": "Seq", "AttributeType": "N"},
    ],
    "KeySchema": [
        {"AttributeName": "LocationId", "KeyType": "HASH"},
        {"AttributeName": "Seq", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

log = logging.getLogger("app.relay.changes")

COUNTER_SEQ = 0
GAP_ENTITY = "gap"
GROUP_ENTITY = "group"
#: bounds of one group item (DynamoDB items are at most 400 KB)
GROUP_MAX_CHANGES = 100
GROUP_MAX_BYTES = 300_000
ENTITIES = frozenset({"location", "lead", "conversation", "message"})
DEFAULT_HOLE_GRACE = 2.0
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_CURSOR_VERSION = 1


class InvalidCursor(ValueError):
    reason = "invalid_cursor"


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One delivered change plus the cursor right after it (the SSE event id)."""

    location_id: str
    seq: int
    entity: str
    entity_id: str
    version: int
    data: dict[str, Any]
    at_ms: int
    cursor_after: str

    def wire(self) -> dict[str, Any]:
        """The wire `Change` (camelCase JSON)."""
        return {
            "entity": self.entity,
            "id": self.entity_id,
            "version": self.version,
            "locationId": self.location_id,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: list[ChangeRecord]
    cursor: str
    has_more: bool

    def wire(self) -> dict[str, Any]:
        return {
            "changes": [c.wire() for c in self.changes],
            "cursor": self.cursor,
            "hasMore": self.has_more,
        }


# -- cursor ------------------------------------------------------------------------------


def encode_cursor(positions: dict[str, int]) -> str:
    raw = json.dumps(
        {"v": _CURSOR_VERSION, "p": dict(sorted(positions.items()))}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, int]:
    """Positions of an opaque cursor; empty/None means "from the beginning"."""
    if cursor is None or cursor.strip() == "":
        return {}
    text = cursor.strip()
    if len(text) > 16_384:
        raise InvalidCursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        obj = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("cursor is not one this server issued") from None
    if (
        not isinstance(obj, dict)
        or obj.get("v") != _CURSOR_VERSION
        or not isinstance(obj.get("p"), dict)
    ):
        raise InvalidCursor("cursor is not one this server issued")
    positions: dict[str, int] = {}
    for loc, seq in obj["p"].items():
        if not isinstance(loc, str) or isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InvalidCursor("cursor is not one this server issued")
        positions[loc] = seq
    return positions


# -- the log -----------------------------------------------------------------------------

Change = tuple[str, str, int, dict[str, Any]]  # entity, entity_id, version, data


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


class ChangeLog:
    """The change log table (a plain boto3 low-level client taking attribute-value
    dicts, e.g. `Tables.client`; not a resource's `meta.client`; thread-safe)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        hole_grace: float = DEFAULT_HOLE_GRACE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb = client
        self.table_name = table_name
        self.hole_grace = hole_grace
        self._clock = clock
        #: test hook: called between taking a seq and writing it (crash/late-writer tests)
        self.before_put: Callable[[str, int], None] | None = None
        self._group_lock = threading.Lock()
        self._queues: dict[str, list[_Waiter]] = {}  # location -> waiting appends
        self._appended: list[Callable[[str, int], None]] = []

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

    # -- group commit -----------------------------------------------------------------

    def append(self, location_id: str, changes: Sequence[Change]) -> list[int]:
        """Record `changes` (entity, entity_id, version, data) of one location, together
        with whatever other threads are appending to that location right now: one
        counter update and one put for the lot (see "Group commit" above). Returns
        once they are stored: the seq of each change (equal for changes sharing an item).
        Raises what the write raised (every caller of a failed group does).
        """
        for entity, *_ in changes:
            if entity not in ENTITIES:
                raise ValueError(f"unknown entity {entity!r}")
        if not changes:
            return []
        me = _Waiter(
            [
                json.dumps(
                    [entity, entity_id, int(version), data], separators=(",", ":"), default=str
                )
                for entity, entity_id, version, data in changes
            ]
        )
        with self._group_lock:
            queue = self._queues.setdefault(location_id, [])
            queue.append(me)
            leader = len(queue) == 1  # nobody is writing this location: lead
        if not leader:
            me.event.wait()
            if me.state == "done":
                return me.result()
        # Leader: write the front of the queue (this call's changes first), then hand
        # the lead to the next waiter, so no caller ever writes more than one group.
        with self._group_lock:
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
        with self._group_lock:
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
        return me.result()

    def _write_groups(self, location_id: str, batch: list[_Waiter]) -> list[tuple[_Waiter, int]]:
        """Store the batch's changes as group items (one unless they are too big for
        one item); returns (waiter, seq) for each change, in order."""
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
        last = self.next_seq(location_id, len(items))
        out: list[tuple[_Waiter, int]] = []
        for i, members in enumerate(items):
            seq = self._put_group(location_id, last - len(items) + 1 + i, [c for _, c in members])
            out.extend((waiter, seq) for waiter, _ in members)
        return out

    def _put_group(self, location_id: str, seq: int, changes: list[str]) -> int:
        """Put one group item at `seq` (a new seq if a reader sealed it); its seq."""
        for _ in range(10):
            if self.before_put is not None:
                self.before_put(location_id, seq)
            try:
                self._ddb.put_item(
                    TableName=self.table_name,
                    Item={
                        "LocationId": {"S": location_id},
                        "Seq": {"N": str(seq)},
                        "Entity": {"S": GROUP_ENTITY},
                        "Changes": {"S": "[" + ",".join(changes) + "]"},
                        "At": {"N": str(int(self._clock() * 1000))},
                    },
                    ConditionExpression="attribute_not_exists(Seq)",
                )
                return seq
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                seq = self.next_seq(location_id)  # sealed as a gap meanwhile: another seq
        raise RuntimeError("could not append to the change log after 10 attempts")

    # -- writing --------------------------------------------------------------------

    def next_seq(self, location_id: str, count: int = 1) -> int:
        """Reserve `count` seqs; returns the last one (the first is `last - count + 1`)."""
        resp = self._ddb.update_item(
            TableName=self.table_name,
            Key={"LocationId": {"S": location_id}, "Seq": {"N": str(COUNTER_SEQ)}},
            UpdateExpression="ADD NextSeq :n",
            ExpressionAttributeValues={":n": {"N": str(int(count))}},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["NextSeq"]["N"])

    def _item(
        self, location_id: str, seq: int, entity: str, entity_id: str, version: int, data: Any
    ) -> dict[str, Any]:
        return {
            "LocationId": {"S": location_id},
            "Seq": {"N": str(seq)},
            "Entity": {"S": entity},
            "EntityId": {"S": entity_id},
            "Version": {"N": str(int(version))},
            "Data": {"S": json.dumps(data, separators=(",", ":"), default=str)},
            "At": {"N": str(int(self._clock() * 1000))},
        }

    def record_many(
        self, location_id: str, changes: Sequence[tuple[str, str, int, dict[str, Any]]]
    ) -> list[int]:
        """Append several changes of one location in two calls (counter + transaction).

        `changes` are (entity, entity_id, version, data). Same guarantees as
        `record`: if a reader sealed any of the reserved seqs, the transaction is
        cancelled as a whole and retried with new seqs.
        """
        if not changes:
            return []
        for entity, *_ in changes:
            if entity not in ENTITIES:
                raise ValueError(f"unknown entity {entity!r}")
        if len(changes) == 1:
            return [self.record(location_id, *changes[0])]
        if len(changes) > 100:  # TransactWriteItems limit
            return [
                seq
                for start in range(0, len(changes), 100)
                for seq in self.record_many(location_id, changes[start : start + 100])
            ]
        for _ in range(10):
            last = self.next_seq(location_id, len(changes))
            first = last - len(changes) + 1
            if self.before_put is not None:
                self.before_put(location_id, first)
            items = [
                self._item(location_id, first + i, *change) for i, change in enumerate(changes)
            ]
            try:
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(Seq)",
                            }
                        }
                        for item in items
                    ]
                )
                return list(range(first, last + 1))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                # A seq was sealed (or a conflicting transaction ran): take new seqs.
        raise RuntimeError("could not append to the change log after 10 attempts")

    def record(
        self,
        location_id: str,
        entity: str,
        entity_id: str,
        version: int,
        data: dict[str, Any],
    ) -> int:
        """Append a change; returns its seq. Retries with a new seq if a reader sealed ours."""
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r}")
        for _ in range(10):
            seq = self.next_seq(location_id)
            if self.before_put is not None:
                self.before_put(location_id, seq)
            try:
                self._ddb.put_item(
                    TableName=self.table_name,
                    Item=self._item(location_id, seq, entity, entity_id, version, data),
                    ConditionExpression="attribute_not_exists(Seq)",
                )
                return seq
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # A reader sealed this seq as a gap while we were slow: take another.
        raise RuntimeError("could not append to the change log after 10 attempts")

    # -- reading --------------------------------------------------------------------

    def _query(self, location_id: str, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Items with seq > after (at most `limit`), and whether more exist."""
        resp = self._ddb.query(
            TableName=self.table_name,
            KeyConditionExpression="LocationId = :loc AND Seq > :after",
            ExpressionAttributeValues={
                ":loc": {"S": location_id},
                ":after": {"N": str(max(after, COUNTER_SEQ))},
            },
            ConsistentRead=True,
            Limit=limit,
        )
        items: list[dict[str, Any]] = resp.get("Items", [])
        return items, "LastEvaluatedKey" in resp

    def _seal(self, location_id: str, seq: int) -> bool:
        """Fill a stale hole with a gap item; False when the change landed first."""
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item={
                    "LocationId": {"S": location_id},
                    "Seq": {"N": str(seq)},
                    "Entity": {"S": GAP_ENTITY},
                    "At": {"N": str(int(self._clock() * 1000))},
                },
                ConditionExpression="attribute_not_exists(Seq)",
            )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False

    def _contiguous(
        self, location_id: str, after: int, limit: int
    ) -> tuple[list[tuple[int, dict[str, Any] | None]], bool]:
        """The deliverable run after `after`: [(seq, item or None for a gap)], more?"""
        run: list[tuple[int, dict[str, Any] | None]] = []
        expected = after + 1
        for _ in range(4):  # re-query after sealing a hole, a few times at most
            items, truncated = self._query(location_id, expected - 1, limit + 1)
            now_ms = int(self._clock() * 1000)
            restart = False
            for item in items:
                seq = int(item["Seq"]["N"])
                while seq > expected:
                    # Hole at `expected`: writers took their seq before this item's.
                    age = (now_ms - int(item["At"]["N"])) / 1000.0
                    if age < self.hole_grace:
                        return run, False  # wait for the writer
                    if self._seal(location_id, expected):
                        run.append((expected, None))
                        expected += 1
                    else:
                        restart = True  # the late change arrived: read it
                        break
                if restart:
                    break
                run.append((seq, None if item["Entity"]["S"] == GAP_ENTITY else item))
                expected = seq + 1
                if len(run) > limit:
                    return run, True
            if not restart:
                return run, truncated
        return run, True

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
        """
        limit = max(1, min(int(limit), MAX_LIMIT))
        start = decode_cursor(cursor)
        positions = {loc: start.get(loc, 0) for loc in locations}
        wanted = set(locations) if only is None else set(only) & set(locations)
        runs: dict[str, list[tuple[int, dict[str, Any] | None]]] = {}
        more: dict[str, bool] = {}
        for loc in locations:
            if loc in wanted:
                runs[loc], more[loc] = self._contiguous(loc, positions[loc], limit)
        # k-way merge by write time; each location's run stays in seq order, so the
        # cursor of every location always covers a prefix of its log.
        heap: list[tuple[int, int, str, int]] = []
        for loc, run in runs.items():
            if run:
                heap.append((_at(run[0][1]), run[0][0], loc, 0))
        heapq.heapify(heap)
        out: list[ChangeRecord] = []
        while heap and len(out) < limit:
            entry = heapq.heappop(heap)
            _, seq, loc, idx = entry
            item = runs[loc][idx][1]
            changes = _changes_of(item)
            if out and len(out) + len(changes) > limit:
                heapq.heappush(heap, entry)  # a group is never split: next page
                break
            # the run is contiguous: the position before this item is seq - 1
            before = encode_cursor({**positions, loc: seq - 1}) if len(changes) > 1 else ""
            positions[loc] = seq
            after = encode_cursor(positions)
            for i, (entity, entity_id, version, data) in enumerate(changes):
                cursor_after = after if i == len(changes) - 1 else before
                out.append(
                    ChangeRecord(
                        location_id=loc,
                        seq=seq,
                        entity=entity,
                        entity_id=entity_id,
                        version=version,
                        data=data,
                        at_ms=int(item["At"]["N"]) if item is not None else 0,
                        cursor_after=cursor_after,
                    )
                )
            if idx + 1 < len(runs[loc]):
                nxt = runs[loc][idx + 1]
                heapq.heappush(heap, (_at(nxt[1]), nxt[0], loc, idx + 1))
        has_more = bool(heap) or any(more.values())
        return ChangesPage(out, encode_cursor(positions), has_more)

    def counters(self, locations: Iterable[str]) -> dict[str, int]:
        """The last seq handed out per location (0: none), read in batches of 100."""
        wanted = sorted(set(locations))
        out = dict.fromkeys(wanted, 0)
        for start in range(0, len(wanted), 100):
            keys: list[dict[str, Any]] = [
                {"LocationId": {"S": loc}, "Seq": {"N": str(COUNTER_SEQ)}}
                for loc in wanted[start : start + 100]
            ]
            for _ in range(10):
                resp = self._ddb.batch_get_item(
                    RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in resp.get("Responses", {}).get(self.table_name, []):
                    out[item["LocationId"]["S"]] = int(item.get("NextSeq", {"N": "0"})["N"])
                keys = resp.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if not keys:
                    break
                time.sleep(0.05)
        return out

    def latest_cursor(self, locations: Iterable[str]) -> str:
        """A cursor at the current end of each location's log (skip history)."""
        return encode_cursor(self.counters(locations))


def _at(item: dict[str, Any] | None) -> int:
    return -1 if item is None else int(item["At"]["N"])


def _changes_of(item: dict[str, Any] | None) -> list[Change]:
    """The changes a log item holds: none (a gap), one, or a group's, in order."""
    if item is None or item["Entity"]["S"] == GAP_ENTITY:
        return []
    if item["Entity"]["S"] == GROUP_ENTITY:
        return [
            (str(entity), str(entity_id), int(version), data)
            for entity, entity_id, version, data in json.loads(item["Changes"]["S"])
        ]
    return [
        (
            item["Entity"]["S"],
            item["EntityId"]["S"],
            int(item["Version"]["N"]),
            json.loads(item["Data"]["S"]),
        )
    ]


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


def record_change(
    target: Any,
    location_id: str,
    entity: str,
    entity_id: str,
    version: int,
    data: dict[str, Any],
) -> int:
    """Append a change to the log under its own seq. `target` is a `ChangeLog` or has a
    `.change_log`. (The relay itself writes through `ChangeLog.append`.)"""
    log = target if isinstance(target, ChangeLog) else target.change_log
    return int(log.record(location_id, entity, entity_id, version, data))


def record_changes(
    target: Any, location_id: str, changes: Sequence[tuple[str, str, int, dict[str, Any]]]
) -> list[int]:
    """Append several changes (entity, entity_id, version, data) of one location at once,
    each under its own seq: one counter update and one transaction."""
    log = target if isinstance(target, ChangeLog) else target.change_log
    return list(log.record_many(location_id, changes))


def read_changes(
    log: ChangeLog, locations: Sequence[str], cursor: str | None, limit: int = DEFAULT_LIMIT
) -> ChangesPage:
    return log.read(locations, cursor, limit)

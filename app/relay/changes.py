"""Per-location change log: the feed behind `GET /v1/changes` and `GET /v1/stream`.

Table `{P}_Web2Text_ChangeLog`: hash `LocationId` (S), range `Seq` (N).

Items `Seq >= 1` hold changes: a group item (`Entity = "group"`, `Changes` = a
JSON list of [entity, id, version, data], `At` = epoch ms when written), or,
written by `record`/`record_many`, one change each (`Entity`, `EntityId`,
`Version`, `Data` = the entity's full view as a JSON string, `At`).

Sequence numbers without a counter
----------------------------------
A writer puts its item at *head + 1*, where head is the highest seq it knows
to exist, with `attribute_not_exists(Seq)`. When the put fails, another writer
(another relay instance) took that seq: it reads the location's real head
(one consistent Query, newest first, Limit 1) and tries again. Each process
remembers each location's head from its own puts and reads, so with one
writer per location — one relay instance, or several that the stream watch
keeps informed — an append is ONE conditional put.

A seq is only ever written when the seq before it already exists (the writer
saw it: its own put, a failed put on it, or a consistent read). So the log
never has holes, and a reader that has seen seq N has seen every seq below it:
the cursor may simply advance past everything read. A crashed writer leaves
nothing behind (there is no reservation to abandon). The earlier design
reserved seqs with an `UpdateItem ADD` on a counter item (`Seq = 0`) and had
readers seal the holes crashed writers left: one write more per append and a
grace period of latency after a crash. Readers skip a leftover counter item
and `gap` items.

Group commit
------------
`ChangeLog.append` is what the relay writes through. Concurrent writers of one
location (threads of this process) are queued; one of them writes everything
queued so far as ONE group item under ONE seq, while every caller still returns
only once its changes are stored. Writers of one location never race each other
inside a process, so the head they remember stays exact. The changes of one
`append` call always share one item, so they are seen together. A reader
expands a group item into its changes in order; a page never splits a group
(the cursor is per seq): a page holds at most `limit` changes, except that a
single group bigger than `limit` is delivered whole. Inside a group, every
change but the last carries the cursor *before* the group as its event id, so a
stream resumed from one of them gets the whole group again (receivers ignore
versions they already have).

Order between locations does not matter (every change carries the entity's
version and receivers ignore versions they already have), so the cursor is a
map location -> last delivered seq, sent to clients as opaque base64url JSON.

Change detection (`heads`)
--------------------------
Because there are no holes, "did location L change since seq k?" is "does
(L, k + 1) exist?": one BatchGetItem answers it for 100 locations at a time
(keys only), and only the locations that did change need a Query for their new
head. The streams of a process share this (`app.relay.stream.HeadWatch`).
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

#: items an earlier build's readers wrote into holes (holes no longer occur)
GAP_ENTITY = "gap"
GROUP_ENTITY = "group"
#: bounds of one group item (DynamoDB items are at most 400 KB)
GROUP_MAX_CHANGES = 100
GROUP_MAX_BYTES = 300_000
ENTITIES = frozenset({"location", "lead", "conversation", "message"})
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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb = client
        self.table_name = table_name
        self._clock = clock
        #: test hook: called right before each conditional put of `seq` (race tests)
        self.before_put: Callable[[str, int], None] | None = None
        self._group_lock = threading.Lock()
        self._queues: dict[str, list[_Waiter]] = {}  # location -> waiting appends
        self._appended: list[Callable[[str, int], None]] = []
        #: location -> highest seq known to exist (from puts and reads of this process)
        self._heads: dict[str, int] = {}
        self._heads_lock = threading.Lock()

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

    def _saw(self, location_id: str, seq: int) -> int:
        """`seq` of `location_id` exists: remember it if it is the highest seen."""
        with self._heads_lock:
            head = max(self._heads.get(location_id, 0), seq)
            self._heads[location_id] = head
            return head

    def head(self, location_id: str) -> int:
        """The location's highest seq in the table (0: empty), read consistently."""
        resp = self._ddb.query(
            TableName=self.table_name,
            KeyConditionExpression="LocationId = :loc AND Seq > :zero",
            ExpressionAttributeValues={":loc": {"S": location_id}, ":zero": {"N": "0"}},
            ProjectionExpression="Seq",
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=1,
        )
        items = resp.get("Items", [])
        return self._saw(location_id, int(items[0]["Seq"]["N"]) if items else 0)

    def _known_head(self, location_id: str) -> int:
        with self._heads_lock:
            known = self._heads.get(location_id)
        return self.head(location_id) if known is None else known

    def heads(self, locations: Iterable[str]) -> dict[str, int]:
        """The current head of each location. For a location whose head this process
        knows (from its own puts and reads: never past the table's), one keys-only
        BatchGetItem per 100 locations checks whether seq `head + 1` exists; only
        those that moved, and the ones never seen, are queried. (The log has no
        holes: nothing past a head exists unless the seq right after it does.)"""
        wanted = sorted(set(locations))
        with self._heads_lock:
            known = {loc: self._heads[loc] for loc in wanted if loc in self._heads}
        out: dict[str, int] = {}
        probe = [loc for loc in wanted if loc in known]
        moved = [loc for loc in wanted if loc not in known]
        for start in range(0, len(probe), 100):
            chunk = probe[start : start + 100]
            keys: list[dict[str, Any]] = [
                {"LocationId": {"S": loc}, "Seq": {"N": str(known[loc] + 1)}} for loc in chunk
            ]
            found: set[str] = set()
            for _ in range(10):
                resp = self._ddb.batch_get_item(
                    RequestItems={
                        self.table_name: {
                            "Keys": keys,
                            "ConsistentRead": True,
                            "ProjectionExpression": "LocationId",
                        }
                    }
                )
                found.update(
                    item["LocationId"]["S"]
                    for item in resp.get("Responses", {}).get(self.table_name, [])
                )
                keys = resp.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if not keys:
                    break
                time.sleep(0.05)
            else:
                found.update(k["LocationId"]["S"] for k in keys)  # unanswered: look
            for loc in chunk:
                if loc in found:
                    moved.append(loc)
                else:
                    out[loc] = self._saw(loc, known[loc])
        for loc in moved:
            out[loc] = self.head(loc)
        return out

    def latest_cursor(self, locations: Iterable[str]) -> str:
        """A cursor at the current end of each location's log (skip history)."""
        return encode_cursor(self.heads(locations))

    # -- writing ----------------------------------------------------------------------

    def _put_next(self, location_id: str, attributes: dict[str, Any]) -> int:
        """Put an item with `attributes` at the location's next seq; that seq."""
        seq = self._known_head(location_id) + 1
        for _ in range(_PUT_ATTEMPTS):
            if self.before_put is not None:
                self.before_put(location_id, seq)
            try:
                self._ddb.put_item(
                    TableName=self.table_name,
                    Item={
                        "LocationId": {"S": location_id},
                        "Seq": {"N": str(seq)},
                        **attributes,
                        "At": {"N": str(int(self._clock() * 1000))},
                    },
                    ConditionExpression="attribute_not_exists(Seq)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # another instance wrote this seq: it exists, so the head is at least it
                self._saw(location_id, seq)
                seq = self.head(location_id) + 1
                continue
            return self._saw(location_id, seq)
        raise RuntimeError(f"could not append to the change log after {_PUT_ATTEMPTS} attempts")

    def append(self, location_id: str, changes: Sequence[Change]) -> list[int]:
        """Record `changes` (entity, entity_id, version, data) of one location, together
        with whatever other threads are appending to that location right now: one
        put for the lot (see "Group commit" above). Returns once they are stored:
        the seq of each change (equal for changes sharing an item).
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
        out: list[tuple[_Waiter, int]] = []
        for members in items:
            seq = self._put_next(
                location_id,
                {
                    "Entity": {"S": GROUP_ENTITY},
                    "Changes": {"S": "[" + ",".join(c for _, c in members) + "]"},
                },
            )
            out.extend((waiter, seq) for waiter, _ in members)
        return out

    def record(
        self,
        location_id: str,
        entity: str,
        entity_id: str,
        version: int,
        data: dict[str, Any],
    ) -> int:
        """Append one change as its own item (not grouped); returns its seq."""
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r}")
        return self._put_next(location_id, _change_attributes(entity, entity_id, version, data))

    def record_many(
        self, location_id: str, changes: Sequence[tuple[str, str, int, dict[str, Any]]]
    ) -> list[int]:
        """Append several changes of one location under consecutive seqs, all or none
        (one transaction of conditional puts; retried at the new head when another
        writer took one of the seqs)."""
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
        first = self._known_head(location_id) + 1
        for _ in range(_PUT_ATTEMPTS):
            if self.before_put is not None:
                self.before_put(location_id, first)
            at = {"N": str(int(self._clock() * 1000))}
            try:
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": {
                                    "LocationId": {"S": location_id},
                                    "Seq": {"N": str(first + i)},
                                    **_change_attributes(*change),
                                    "At": at,
                                },
                                "ConditionExpression": "attribute_not_exists(Seq)",
                            }
                        }
                        for i, change in enumerate(changes)
                    ]
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                first = self.head(location_id) + 1  # another writer took some of them
                continue
            self._saw(location_id, first + len(changes) - 1)
            return list(range(first, first + len(changes)))
        raise RuntimeError(f"could not append to the change log after {_PUT_ATTEMPTS} attempts")

    # -- reading ----------------------------------------------------------------------

    def _query(self, location_id: str, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Items with seq > after (at most `limit`), and whether more exist."""
        resp = self._ddb.query(
            TableName=self.table_name,
            KeyConditionExpression="LocationId = :loc AND Seq > :after",
            ExpressionAttributeValues={
                ":loc": {"S": location_id},
                ":after": {"N": str(max(after, 0))},
            },
            ConsistentRead=True,
            Limit=limit,
        )
        items: list[dict[str, Any]] = resp.get("Items", [])
        if items:
            self._saw(location_id, int(items[-1]["Seq"]["N"]))
        return items, "LastEvaluatedKey" in resp

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
        runs: dict[str, list[dict[str, Any]]] = {}
        more: dict[str, bool] = {}
        for loc in locations:
            if loc in wanted:
                runs[loc], more[loc] = self._query(loc, positions[loc], limit + 1)
        # k-way merge by write time; each location's run stays in seq order, so the
        # cursor of every location always covers a prefix of its log.
        heap: list[tuple[int, int, str, int]] = []
        for loc, run in runs.items():
            if run:
                heap.append((_at(run[0]), _seq(run[0]), loc, 0))
        heapq.heapify(heap)
        out: list[ChangeRecord] = []
        while heap and len(out) < limit:
            entry = heapq.heappop(heap)
            _, seq, loc, idx = entry
            item = runs[loc][idx]
            changes = _changes_of(item)
            if out and len(out) + len(changes) > limit:
                heapq.heappush(heap, entry)  # a group is never split: next page
                break
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
                        at_ms=_at(item),
                        cursor_after=cursor_after,
                    )
                )
            if idx + 1 < len(runs[loc]):
                nxt = runs[loc][idx + 1]
                heapq.heappush(heap, (_at(nxt), _seq(nxt), loc, idx + 1))
        has_more = bool(heap) or any(more.values())
        return ChangesPage(out, encode_cursor(positions), has_more)


_PUT_ATTEMPTS = 20


def _change_attributes(entity: str, entity_id: str, version: int, data: Any) -> dict[str, Any]:
    return {
        "Entity": {"S": entity},
        "EntityId": {"S": entity_id},
        "Version": {"N": str(int(version))},
        "Data": {"S": json.dumps(data, separators=(",", ":"), default=str)},
    }


def _at(item: dict[str, Any]) -> int:
    return int(item["At"]["N"])


def _seq(item: dict[str, Any]) -> int:
    return int(item["Seq"]["N"])


def _changes_of(item: dict[str, Any]) -> list[Change]:
    """The changes a log item holds: one, a group's in order, or none (a `gap` item
    written by an earlier build's readers)."""
    entity = item["Entity"]["S"]
    if entity == GAP_ENTITY:
        return []
    if entity == GROUP_ENTITY:
        return [
            (str(entity), str(entity_id), int(version), data)
            for entity, entity_id, version, data in json.loads(item["Changes"]["S"])
        ]
    return [
        (
            entity,
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
    each under its own seq, in one transaction."""
    log = target if isinstance(target, ChangeLog) else target.change_log
    return list(log.record_many(location_id, changes))


def read_changes(
    log: ChangeLog, locations: Sequence[str], cursor: str | None, limit: int = DEFAULT_LIMIT
) -> ChangesPage:
    return log.read(locations, cursor, limit)

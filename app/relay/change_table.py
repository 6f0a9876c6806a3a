"""The change log's table: sequence numbers without a counter, and heads.

Table `{P}_Web2Text_ChangeLog`: hash `LocationId` (S), range `Seq` (N).

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
nothing behind (there is no reservation to abandon). Readers skip a leftover
counter item (`Seq = 0`, from an earlier design) and `gap` items.

Change detection (`heads`)
--------------------------
Because there are no holes, "did location L change since seq k?" is "does
(L, k + 1) exist?": one BatchGetItem answers it for 100 locations at a time
(keys only), and only the locations that did change need a Query for their new
head. The streams of a process share this (`app.relay.stream.HeadWatch`).

Retention
---------
With a retention period, every item carries `ExpiresAt` (N, epoch s; the
table's TTL attribute) = `At` + retention; DynamoDB deletes it lazily after
that, and readers treat an item past it as gone (`changes.ChangeLog.read`
answers such a cursor with `CursorExpired`). A remembered head is trusted only
while its item cannot have expired. When every item of a location is gone, the
next one cannot start again at 1 (a cursor still holding an old seq would skip
the new items below it): the first item written into an empty log gets
seq = period * 10^12 + 1 (period = now // retention: a log is only empty a
whole retention after its last item, so this is above every seq before) and
`First` = true, which tells readers that nothing was written before it.
Watchers that remember a log as empty probe seq 1 and those first seqs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
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

_PUT_ATTEMPTS = 20
#: how long before its expiry a remembered head is no longer trusted (at most)
_TRUST_MARGIN_S = 3600.0
#: seqs of one retention period: an empty log restarts at period * this + 1
_PERIOD_SEQS = 10**12
#: keys one BatchGetItem may ask for
_BATCH_KEYS = 100


class LogTable:
    """The log's items in DynamoDB (a plain boto3 low-level client taking
    attribute-value dicts, e.g. `Tables.client`; thread-safe), and the heads this
    process knows."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        retention_s: float = 0.0,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._clock = clock
        #: seconds an item is kept (0: forever, no `ExpiresAt`)
        self.retention_s = max(0.0, retention_s)
        #: test hook: called right before each conditional put of `seq` (race tests)
        self.before_put: Callable[[str, int], None] | None = None
        #: location -> (highest seq known to exist, its item's `At`), from this
        #: process's puts and reads
        self._heads: dict[str, tuple[int, int]] = {}
        self._heads_lock = threading.Lock()

    def now_ms(self) -> dict[str, str]:
        """`At` of an item written now."""
        return {"N": str(int(self._clock() * 1000))}

    def stamps(self, first: bool = False) -> dict[str, Any]:
        """`At` (and `ExpiresAt`, `First`) of an item written now."""
        at_ms = int(self._clock() * 1000)
        out: dict[str, Any] = {"At": {"N": str(at_ms)}}
        if self.retention_s:
            out["ExpiresAt"] = {"N": str(int(at_ms / 1000 + self.retention_s))}
        if first:
            out["First"] = {"BOOL": True}
        return out

    def expired(self, item: dict[str, Any]) -> bool:
        """Whether `item` is past its `ExpiresAt` (gone, even if not yet deleted)."""
        expires = item.get("ExpiresAt")
        return expires is not None and int(expires["N"]) <= self._clock()

    def _period(self, at_s: float) -> int:
        return int(at_s // self.retention_s) if self.retention_s else 0

    def first_seq(self) -> int:
        """The seq of the first item of an empty log (see *Retention*)."""
        return self._period(self._clock()) * _PERIOD_SEQS + 1

    def _probe_seqs(self, head: int, at_ms: int) -> list[int]:
        """The seqs whose existence says that a location moved past `head` (for an empty
        log, seen so at `at_ms`: 1 and the first seqs of the periods since)."""
        if head or not self.retention_s:
            return [head + 1]
        periods = range(self._period(at_ms / 1000) - 1, self._period(self._clock()) + 2)
        return [1] + [p * _PERIOD_SEQS + 1 for p in periods if p > 0]

    # -- heads ------------------------------------------------------------------------

    def saw(self, location_id: str, seq: int, at_ms: int = 0) -> int:
        """`seq` of `location_id` exists (written at `at_ms`; 0: unknown): remember it if
        it is the highest seen."""
        with self._heads_lock:
            entry = self._heads.get(location_id)
            known, known_at = entry if entry is not None else (0, 0)
            if entry is None or seq > known or (seq == known and at_ms > known_at):
                self._heads[location_id] = (seq, at_ms)
                return seq
            return known

    def _trusted(self, location_id: str) -> tuple[int, int] | None:
        """The remembered head and its `At` (for an empty log: when seen empty), while
        its item cannot have expired (None otherwise)."""
        with self._heads_lock:
            entry = self._heads.get(location_id)
        if entry is None:
            return None
        seq, at_ms = entry
        if self.retention_s and seq:
            margin = min(_TRUST_MARGIN_S, self.retention_s / 10)
            if at_ms / 1000 + self.retention_s - margin <= self._clock():
                return None
        return entry

    def head(self, location_id: str) -> int:
        """The location's highest seq in the table (0: empty), read consistently."""
        resp = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="LocationId = :loc AND Seq > :zero",
            ExpressionAttributeValues={":loc": {"S": location_id}, ":zero": {"N": "0"}},
            ProjectionExpression="Seq, #at",
            ExpressionAttributeNames={"#at": "At"},
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=1,
        )
        items = resp.get("Items", [])
        if not items:
            return self.saw(location_id, 0, int(self._clock() * 1000))
        return self.saw(location_id, int(items[0]["Seq"]["N"]), _at(items[0]))

    def known_head(self, location_id: str) -> int:
        """The head this process knows (read when it knows none it can trust)."""
        known = self._trusted(location_id)
        return self.head(location_id) if known is None else known[0]

    def _next_seq(self, location_id: str) -> tuple[int, bool]:
        """The seq after the head, and whether it starts an empty log."""
        head = self.known_head(location_id)
        return (head + 1, False) if head else (self.first_seq(), True)

    def heads(self, locations: Iterable[str]) -> dict[str, int]:
        """The current head of each location. For a location whose head this process
        knows (from its own puts and reads: never past the table's), keys-only
        BatchGetItems (100 keys each) check whether seq `head + 1` exists (for an
        empty log: see `_probe_seqs`); only those that moved, and the ones never
        seen, are queried. (The log has no holes: nothing past a head exists unless
        the seq right after it does.)"""
        wanted = sorted(set(locations))
        trusted = {loc: self._trusted(loc) for loc in wanted}
        known = {loc: entry for loc, entry in trusted.items() if entry is not None}
        moved = {loc for loc in wanted if loc not in known}
        keys = [
            (loc, seq) for loc, (head, at) in known.items() for seq in self._probe_seqs(head, at)
        ]
        for start in range(0, len(keys), _BATCH_KEYS):
            moved |= self._existing(keys[start : start + _BATCH_KEYS])
        now_ms = int(self._clock() * 1000)
        out: dict[str, int] = {}
        for loc in wanted:
            if loc in moved:
                out[loc] = self.head(loc)
            else:
                out[loc] = known[loc][0]
                if not out[loc]:
                    self.saw(loc, 0, now_ms)  # still empty now
        return out

    def _existing(self, probe: list[tuple[str, int]]) -> set[str]:
        """The locations of the (at most 100) keys that exist."""
        keys: list[dict[str, Any]] = [
            {"LocationId": {"S": loc}, "Seq": {"N": str(seq)}} for loc, seq in probe
        ]
        found: set[str] = set()
        for _ in range(10):
            resp = self.client.batch_get_item(
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
                return found
            time.sleep(0.05)
        found.update(k["LocationId"]["S"] for k in keys)  # unanswered: look
        return found

    # -- writing ----------------------------------------------------------------------

    def put_next(self, location_id: str, attributes: dict[str, Any]) -> int:
        """Put an item with `attributes` at the location's next seq; that seq."""
        seq, first = self._next_seq(location_id)
        for _ in range(_PUT_ATTEMPTS):
            if self.before_put is not None:
                self.before_put(location_id, seq)
            stamps = self.stamps(first)
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={
                        "LocationId": {"S": location_id},
                        "Seq": {"N": str(seq)},
                        **attributes,
                        **stamps,
                    },
                    ConditionExpression="attribute_not_exists(Seq)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # another instance wrote this seq: it exists, so the head is at least it
                self.saw(location_id, seq)
                seq, first = self.head(location_id) + 1, False
                continue
            return self.saw(location_id, seq, _at(stamps))
        raise RuntimeError(f"could not append to the change log after {_PUT_ATTEMPTS} attempts")

    def put_consecutive(self, location_id: str, attributes: Sequence[dict[str, Any]]) -> list[int]:
        """Put items (at most 100) under consecutive seqs after the head, all or none
        (one transaction of conditional puts; retried at the new head when another
        writer took one of the seqs); their seqs."""
        first, empty = self._next_seq(location_id)
        for _ in range(_PUT_ATTEMPTS):
            if self.before_put is not None:
                self.before_put(location_id, first)
            puts = [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "LocationId": {"S": location_id},
                            "Seq": {"N": str(first + i)},
                            **attrs,
                            **self.stamps(empty and i == 0),
                        },
                        "ConditionExpression": "attribute_not_exists(Seq)",
                    }
                }
                for i, attrs in enumerate(attributes)
            ]
            try:
                self.client.transact_write_items(TransactItems=puts)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                first, empty = self.head(location_id) + 1, False  # another writer took some
                continue
            self.saw(location_id, first + len(attributes) - 1, int(self._clock() * 1000))
            return list(range(first, first + len(attributes)))
        raise RuntimeError(f"could not append to the change log after {_PUT_ATTEMPTS} attempts")

    # -- reading ----------------------------------------------------------------------

    def query(self, location_id: str, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Items with seq > after (at most `limit`), and whether more exist."""
        resp = self.client.query(
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
            self.saw(location_id, int(items[-1]["Seq"]["N"]), _at(items[-1]))
        return items, "LastEvaluatedKey" in resp


def _at(item: dict[str, Any]) -> int:
    at = item.get("At")
    return int(at["N"]) if at else 0

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
#: keys one BatchGetItem may ask for
_BATCH_KEYS = 100


class LogTable:
    """The log's items in DynamoDB (a plain boto3 low-level client taking
    attribute-value dicts, e.g. `Tables.client`; thread-safe), and the heads this
    process knows."""

    def __init__(
        self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._clock = clock
        #: test hook: called right before each conditional put of `seq` (race tests)
        self.before_put: Callable[[str, int], None] | None = None
        #: location -> highest seq known to exist (from puts and reads of this process)
        self._heads: dict[str, int] = {}
        self._heads_lock = threading.Lock()

    def now_ms(self) -> dict[str, str]:
        """`At` of an item written now."""
        return {"N": str(int(self._clock() * 1000))}

    # -- heads ------------------------------------------------------------------------

    def saw(self, location_id: str, seq: int) -> int:
        """`seq` of `location_id` exists: remember it if it is the highest seen."""
        with self._heads_lock:
            head = max(self._heads.get(location_id, 0), seq)
            self._heads[location_id] = head
            return head

    def head(self, location_id: str) -> int:
        """The location's highest seq in the table (0: empty), read consistently."""
        resp = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="LocationId = :loc AND Seq > :zero",
            ExpressionAttributeValues={":loc": {"S": location_id}, ":zero": {"N": "0"}},
            ProjectionExpression="Seq",
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=1,
        )
        items = resp.get("Items", [])
        return self.saw(location_id, int(items[0]["Seq"]["N"]) if items else 0)

    def known_head(self, location_id: str) -> int:
        """The head this process knows (read when it knows none)."""
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
        for start in range(0, len(probe), _BATCH_KEYS):
            chunk = probe[start : start + _BATCH_KEYS]
            found = self._next_seq_exists({loc: known[loc] for loc in chunk})
            for loc in chunk:
                if loc in found:
                    moved.append(loc)
                else:
                    out[loc] = self.saw(loc, known[loc])
        for loc in moved:
            out[loc] = self.head(loc)
        return out

    def _next_seq_exists(self, known: dict[str, int]) -> set[str]:
        """The locations (at most 100) whose seq right after their known head exists."""
        keys: list[dict[str, Any]] = [
            {"LocationId": {"S": loc}, "Seq": {"N": str(head + 1)}} for loc, head in known.items()
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
        seq = self.known_head(location_id) + 1
        for _ in range(_PUT_ATTEMPTS):
            if self.before_put is not None:
                self.before_put(location_id, seq)
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={
                        "LocationId": {"S": location_id},
                        "Seq": {"N": str(seq)},
                        **attributes,
                        "At": self.now_ms(),
                    },
                    ConditionExpression="attribute_not_exists(Seq)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # another instance wrote this seq: it exists, so the head is at least it
                self.saw(location_id, seq)
                seq = self.head(location_id) + 1
                continue
            return self.saw(location_id, seq)
        raise RuntimeError(f"could not append to the change log after {_PUT_ATTEMPTS} attempts")

    def put_consecutive(self, location_id: str, attributes: Sequence[dict[str, Any]]) -> list[int]:
        """Put items (at most 100) under consecutive seqs after the head, all or none
        (one transaction of conditional puts; retried at the new head when another
        writer took one of the seqs); their seqs."""
        first = self.known_head(location_id) + 1
        for _ in range(_PUT_ATTEMPTS):
            if self.before_put is not None:
                self.before_put(location_id, first)
            at = self.now_ms()
            puts = [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "LocationId": {"S": location_id},
                            "Seq": {"N": str(first + i)},
                            **attrs,
                            "At": at,
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
                first = self.head(location_id) + 1  # another writer took some of them
                continue
            self.saw(location_id, first + len(attributes) - 1)
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
            self.saw(location_id, int(items[-1]["Seq"]["N"]))
        return items, "LastEvaluatedKey" in resp

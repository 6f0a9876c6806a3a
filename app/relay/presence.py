"""Who else is here: staff viewing or typing in a conversation, across every instance.

Table `{P}_Web2Text_Presence` (hash `LocationId`, range `Sk` =
`<ConversationSid>#<StaffId>`, TTL `ExpiresAt`): one short-lived item per staff
member and conversation, under each location the conversation belongs to.
`ViewUntil` and `TypingUntil` (epoch milliseconds) say how long each state holds:
a desktop renews "viewing" while the conversation is open and "typing" while
keys come, so a PC that vanishes drops out by itself within `VIEWING_HOLD_S`.
"left" deletes the item. DynamoDB's TTL removes old items eventually; readers
never trust it and compare the times themselves.

Presence is not stored in the change log. Each post also adds 1 to the
location's presence head (`Sk` = `#head`, `Seq`), as the change log's heads
work: `/v1/stream` asks `PresenceWatch`, one per process, which reads the heads
of its streams' locations at most every `max_age` seconds (one BatchGetItem per
100 locations, shared by every stream of that process) and queries only the
locations whose head moved; presence running out needs no read (the times are
in the items it holds). Each stream (`PresenceFeed`) turns what it sees into
`presence` events when a staff member's state changes, including "left" when
an item is deleted or runs out. A presence posted through this process is in
its watch at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Key

from app.relay.config import Settings
from app.relay.ddb import all_items
from app.relay.tables import PRESENCE

State = Literal["viewing", "typing", "left"]
STATES: tuple[State, ...] = ("viewing", "typing", "left")

#: how long "viewing" holds without a renewal (a desktop renews it well within)
VIEWING_HOLD_S = 45.0
#: how long "typing" holds without another keystroke's renewal
TYPING_HOLD_S = 8.0
#: how old a process's view of a location's presence may be
DEFAULT_MAX_AGE_S = 1.0


@dataclass(frozen=True)
class Presence:
    """One staff member in one conversation, as read at `now_ms`."""

    conversation_sid: str
    staff_id: str
    staff_name: str
    view_until_ms: int
    typing_until_ms: int

    def state_at(self, now_ms: int) -> State:
        if now_ms < self.typing_until_ms:
            return "typing"
        if now_ms < self.view_until_ms:
            return "viewing"
        return "left"

    def expires_ms(self, now_ms: int) -> int:
        """When the state shown at `now_ms` lapses."""
        return self.typing_until_ms if now_ms < self.typing_until_ms else self.view_until_ms

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Presence:
        return cls(
            conversation_sid=str(item.get("ConversationSid", "")),
            staff_id=str(item.get("StaffId", "")),
            staff_name=str(item.get("StaffName", "")),
            view_until_ms=int(item.get("ViewUntil", 0)),
            typing_until_ms=int(item.get("TypingUntil", 0)),
        )


def _sk(conversation_sid: str, staff_id: str) -> str:
    return f"{conversation_sid}#{staff_id}"


def presence_item(
    location_id: str,
    conversation_sid: str,
    staff_id: str,
    staff_name: str,
    state: State,
    now_ms: int,
    holds: tuple[float, float] = (VIEWING_HOLD_S, TYPING_HOLD_S),
) -> dict[str, Any]:
    """The item a `viewing` or `typing` post writes (typing is viewing too); `holds`:
    how long viewing and typing last without a renewal."""
    view_until = now_ms + int(holds[0] * 1000)
    typing_until = now_ms + int(holds[1] * 1000) if state == "typing" else 0
    return {
        "LocationId": location_id,
        "Sk": _sk(conversation_sid, staff_id),
        "ConversationSid": conversation_sid,
        "StaffId": staff_id,
        "StaffName": staff_name,
        "ViewUntil": Decimal(view_until),
        "TypingUntil": Decimal(typing_until),
        # TTL attribute (epoch seconds): DynamoDB deletes it some time after this
        "ExpiresAt": Decimal(view_until // 1000 + 1),
    }


HEAD_SK = "#head"
_BATCH = 100


class PresenceStore:
    """Reads and writes the presence table."""

    def __init__(self, tables: Any) -> None:
        self._table = tables.table(PRESENCE)
        self._resource = tables.resource
        self._name = tables.name(PRESENCE)

    def post(
        self,
        locations: Iterable[str],
        conversation_sid: str,
        staff_id: str,
        staff_name: str,
        state: State,
        now_ms: int,
        holds: tuple[float, float] = (VIEWING_HOLD_S, TYPING_HOLD_S),
    ) -> list[dict[str, Any]]:
        """Write (viewing, typing) or delete (left) the staff member's item under each
        location, then move its head; returns the items written (none for left)."""
        written = []
        for location in locations:
            if state == "left":
                self._table.delete_item(
                    Key={"LocationId": location, "Sk": _sk(conversation_sid, staff_id)}
                )
            else:
                item = presence_item(
                    location, conversation_sid, staff_id, staff_name, state, now_ms, holds
                )
                self._table.put_item(Item=item)
                written.append(item)
            self._table.update_item(
                Key={"LocationId": location, "Sk": HEAD_SK},
                UpdateExpression="ADD Seq :one",
                ExpressionAttributeValues={":one": 1},
            )
        return written

    def read(self, location_id: str) -> list[Presence]:
        items = all_items(
            self._table.query, KeyConditionExpression=Key("LocationId").eq(location_id)
        )
        return [Presence.from_item(i) for i in items if i.get("Sk") != HEAD_SK]

    def heads(self, locations: list[str]) -> dict[str, int]:
        """Each location's presence head (0: never posted to)."""
        out = {loc: 0 for loc in locations}
        for start in range(0, len(locations), _BATCH):
            keys = [{"LocationId": loc, "Sk": HEAD_SK} for loc in locations[start : start + _BATCH]]
            request: dict[str, Any] = {self._name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                resp = self._resource.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._name, []):
                    out[str(item["LocationId"])] = int(item.get("Seq", 0))
                request = resp.get("UnprocessedKeys") or {}
        return out


class PresenceWatch:
    """Per-process view of each location's presence: heads read at most every
    `max_age` s, items queried only when a head moved."""

    def __init__(
        self,
        store: PresenceStore,
        max_age: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()  # the cache only, never held across DynamoDB
        self._refresh = threading.Lock()  # one read at a time: streams share its result
        #: location -> (heads read at, head seen, its presence by Sk)
        self._values: dict[str, tuple[float, int, dict[str, Presence]]] = {}

    def current(self, locations: Iterable[str]) -> dict[tuple[str, str], Presence]:
        """Presence by (conversation, staff) over `locations` (blocking: a worker thread)."""
        wanted = set(locations)
        with self._refresh:
            with self._lock:
                now = self._clock()
                stale = sorted(
                    loc
                    for loc in wanted
                    if loc not in self._values or now - self._values[loc][0] >= self.max_age
                )
            if stale:
                self._refresh_locations(stale)
        out: dict[tuple[str, str], Presence] = {}
        with self._lock:
            for loc in wanted:
                for p in self._values[loc][2].values():
                    key = (p.conversation_sid, p.staff_id)
                    known = out.get(key)
                    if known is None or p.view_until_ms > known.view_until_ms:
                        out[key] = p
        return out

    def _refresh_locations(self, stale: list[str]) -> None:
        heads = self._store.heads(stale)  # DynamoDB, outside `_lock`
        read_at = self._clock()
        for loc in stale:
            with self._lock:
                known = self._values.get(loc)
            if known is not None and known[1] == heads[loc]:
                with self._lock:
                    self._values[loc] = (read_at, known[1], known[2])
                continue
            fresh = {_sk(p.conversation_sid, p.staff_id): p for p in self._store.read(loc)}
            with self._lock:
                self._values[loc] = (read_at, heads[loc], fresh)

    def posted(self, locations: Iterable[str], items: list[dict[str, Any]], left: str) -> None:
        """What this process just wrote (`left`: the Sk deleted), seen by its streams at
        once (the next head read queries those locations again)."""
        with self._lock:
            for loc in locations:
                if loc not in self._values:
                    continue
                read_at, _, values = self._values[loc]
                values = dict(values)
                values.pop(left, None)
                for item in items:
                    if item["LocationId"] == loc:
                        values[str(item["Sk"])] = Presence.from_item(item)
                self._values[loc] = (read_at, -1, values)


def holds_of(settings: Settings) -> tuple[float, float]:
    """How long viewing and typing hold without a renewal."""
    return (settings.presence_viewing_hold_s, settings.presence_typing_hold_s)


def iso_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


class PresenceFeed:
    """One stream's view: the presence events it has not sent yet."""

    def __init__(self, watch: PresenceWatch, locations: Iterable[str]) -> None:
        self._watch = watch
        self._locations = list(locations)
        #: what this stream last said of each (conversation, staff): state and name
        self._sent: dict[tuple[str, str], tuple[State, str]] = {}

    def changes(self, now_ms: int) -> list[dict[str, Any]]:
        """The `presence` event payloads since the last call (blocking: a worker thread)."""
        current = self._watch.current(self._locations)
        events = []
        for key, p in current.items():
            state = p.state_at(now_ms)
            if state != "left" and self._sent.get(key, ("left", ""))[0] != state:
                self._sent[key] = (state, p.staff_name)
                events.append(_event(key, p.staff_name, state, p.expires_ms(now_ms)))
        for key, (_, name) in list(self._sent.items()):
            p_now = current.get(key)
            if p_now is None or p_now.state_at(now_ms) == "left":
                del self._sent[key]
                events.append(_event(key, name, "left", now_ms))
        return events


def _event(key: tuple[str, str], name: str, state: State, expires_ms: int) -> dict[str, Any]:
    return {
        "conversationSid": key[0],
        "staffId": key[1],
        "staffName": name,
        "state": state,
        "expiresAt": iso_ms(expires_ms),
    }

"""What the change log holds and hands out: its items, the changes they carry,
the records and pages a reader gets, and the cursor.

A log item (`Seq >= 1`) is either a group item (`Entity = "group"`, `Changes` =
a JSON list of [entity, id, version, data]) or, written by
`ChangeLog.record`/`record_many`, one change (`Entity`, `EntityId`, `Version`,
`Data` = the entity's full view as a JSON string); both carry `At` (epoch ms
when written). Readers skip `gap` items (an earlier build wrote them into holes).

Order between locations does not matter (every change carries the entity's
version and receivers ignore versions they already have), so the cursor is a
map location -> last delivered seq, sent to clients as opaque base64url JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

#: items an earlier build's readers wrote into holes (holes no longer occur)
GAP_ENTITY = "gap"
GROUP_ENTITY = "group"
ENTITIES = frozenset({"location", "lead", "conversation", "message", "templates", "scheduled"})
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_CURSOR_VERSION = 1

Change = tuple[str, str, int, dict[str, Any]]  # entity, entity_id, version, data


class InvalidCursor(ValueError):
    reason = "invalid_cursor"
    status = 400


class CursorExpired(InvalidCursor):
    """The cursor points before what the log still keeps (its retention period): the
    reader has to start again from a snapshot (`GET /v1/snapshot`)."""

    reason = "cursor_expired"
    status = 410


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


def encode_cursor(positions: dict[str, int], at_ms: int | None = None) -> str:
    """`at_ms`: when the positions were read (the change log's retention check)."""
    obj: dict[str, Any] = {"v": _CURSOR_VERSION, "p": dict(sorted(positions.items()))}
    if at_ms is not None:
        obj["t"] = int(at_ms)
    raw = json.dumps(obj, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_time(cursor: str | None) -> int | None:
    """When a (valid) cursor's positions were read, in epoch ms (None: not said)."""
    if not cursor or not cursor.strip():
        return None
    text = cursor.strip()
    obj = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    at = obj.get("t")
    return at if isinstance(at, int) and not isinstance(at, bool) else None


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


def check_entities(changes: Any) -> None:
    """ValueError naming the first change whose entity the log does not know."""
    for entity, *_ in changes:
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r}")


def change_json(change: Change) -> str:
    """One change as it is stored inside a group item."""
    entity, entity_id, version, data = change
    return json.dumps([entity, entity_id, int(version), data], separators=(",", ":"), default=str)


def group_attributes(changes_json: list[str]) -> dict[str, Any]:
    """The attributes of a group item holding these changes (`change_json` each)."""
    return {"Entity": {"S": GROUP_ENTITY}, "Changes": {"S": "[" + ",".join(changes_json) + "]"}}


def change_attributes(entity: str, entity_id: str, version: int, data: Any) -> dict[str, Any]:
    return {
        "Entity": {"S": entity},
        "EntityId": {"S": entity_id},
        "Version": {"N": str(int(version))},
        "Data": {"S": json.dumps(data, separators=(",", ":"), default=str)},
    }


def item_at(item: dict[str, Any]) -> int:
    return int(item["At"]["N"])


def item_seq(item: dict[str, Any]) -> int:
    return int(item["Seq"]["N"])


def changes_of(item: dict[str, Any]) -> list[Change]:
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

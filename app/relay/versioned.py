"""Version-guarded items: the one way the relay updates a lead, conversation or
message item (DynamoDB), and the errors and helpers the repositories share.

Every update is a read-modify-write guarded by the item's `Version` attribute
(UpdateItem SET ... with `Version = :seen`), retried on a lost race; only the
attributes a change touches are written, so attributes other systems own in the
shared LeadStates items are never overwritten. Each successful update returns
the new item; callers publish it to the change feed (`app.relay.feed.publish`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from app.relay.ddb import is_conditional_failure

Item = dict[str, Any]
Updates = dict[str, Any]  # top-level attribute -> new value (None: REMOVE)


class VersionConflict(Exception):
    """The item's Version is not the one the caller expected (If-Match)."""

    def __init__(self, current: Item | None) -> None:
        super().__init__("version conflict")
        self.current = current


class NotFound(Exception):
    pass


class AlreadyExists(Exception):
    pass


class AlreadyApplied(Exception):
    """A message's effect is already in the item (`EFFECTS_ATTR` holds its MessageSid);
    `item` is the item as it is."""

    def __init__(self, item: Item) -> None:
        super().__init__("already applied")
        self.item = item


#: the MessageSids whose effects a conversation or lead item holds, newest last:
#: what makes a message's effects idempotent (a redelivered or recovered message
#: finds its MessageSid there and changes nothing). Kept to the last EFFECTS_KEEP
#: (trimmed back once the list reaches _EFFECTS_TRIM_AT).
EFFECTS_ATTR = "EffectsApplied"
EFFECTS_KEEP = 50
_EFFECTS_TRIM_AT = EFFECTS_KEEP + 20


def effects_need_trim(item: Item) -> bool:
    return len(item.get(EFFECTS_ATTR) or []) >= _EFFECTS_TRIM_AT


def effects_trim(item: Item) -> Updates:
    """The update keeping `item`'s last EFFECTS_KEEP sids (nothing when it has no more)."""
    effects = list(item.get(EFFECTS_ATTR) or [])
    return {EFFECTS_ATTR: effects[-EFFECTS_KEEP:]} if len(effects) > EFFECTS_KEEP else {}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso_at(epoch_seconds: float) -> str:
    """`epoch_seconds` (a `ctx.clock()` reading) in the stored ISO form."""
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """DynamoDB values (Decimal, sets) as JSON-ready Python values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    return value


def version_of(item: Item | None) -> int:
    return int(item.get("Version", 0)) if item else 0


def update_versioned(
    table: Any,
    key: Item,
    fn: Callable[[Item], Updates | None],
    *,
    expected_version: int | None = None,
    current: Item | None = None,
    tries: int = 20,
) -> Item | None:
    """Apply `fn(item) -> updates` with a Version condition; None when `fn` changes nothing.

    `fn` may raise to abort. Raises NotFound when the item does not exist,
    VersionConflict when `expected_version` is given and differs. `current`: the
    whole item as the caller just wrote it (ReturnValues=ALL_NEW); the first try
    starts from it instead of a read. If it is stale by then, the Version
    condition fails and the next try reads, as after any lost race.
    """
    for attempt in range(tries):
        if attempt == 0 and current is not None:
            item: Item | None = current
        else:
            item = table.get_item(Key=key, ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(str(key))
        seen = version_of(item)
        if expected_version is not None and seen != expected_version:
            raise VersionConflict(item)
        updates = fn(item)
        if not updates:
            return None
        try:
            resp = table.update_item(
                Key=key, ReturnValues="ALL_NEW", **_guarded_update(key, updates, seen)
            )
            return dict(resp["Attributes"])
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            if expected_version is not None:
                latest = table.get_item(Key=key, ConsistentRead=True).get("Item")
                raise VersionConflict(latest) from None
            time.sleep(min(0.005 * (attempt + 1), 0.05))
    raise RuntimeError(f"could not update {key} after {tries} attempts (contention)")


def _guarded_update(key: Item, updates: Updates, seen: int) -> dict[str, Any]:
    """The UpdateItem arguments writing `updates` (None: REMOVE) and `Version` =
    `seen` + 1, on the condition that the item exists at version `seen` (items
    without `Version`, written by other systems, are at version 0)."""
    names: dict[str, str] = {"#ver": "Version", "#k": next(iter(key))}
    values: dict[str, Any] = {":next": seen + 1, ":seen": seen}
    sets = ["#ver = :next"]
    removes = []
    for i, (attr, value) in enumerate(updates.items()):
        names[f"#a{i}"] = attr
        if value is None:
            removes.append(f"#a{i}")
        else:
            values[f":v{i}"] = value
            sets.append(f"#a{i} = :v{i}")
    expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    if seen == 0:
        condition = "attribute_exists(#k) AND (attribute_not_exists(#ver) OR #ver = :seen)"
    else:
        condition = "attribute_exists(#k) AND #ver = :seen"
    return {
        "UpdateExpression": expr,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }

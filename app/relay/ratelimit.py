"""Limits every relay instance shares (kept in DynamoDB, never in process memory).

Table `{P}_Web2Text_Limits` (hash `Pk`, range `Sk`, TTL `ExpiresAt`):

- **Rates** (`hit`): a fixed window per scope, `Pk = rate#<scope>`, `Sk = <window
  number>`. One UpdateItem `ADD Hits 1` on the condition `Hits < limit`: the
  request that would go past the limit fails the condition and is refused
  without counting; every instance counts in the same item. A client can get
  at most `limit` in one window (and, across a window boundary, `limit` at the
  end of one and `limit` at the start of the next).
- **Slots** (`take_slot`): at most `count` holders of a scope at a time,
  `Pk = slots#<scope>`, `Sk = 0 .. count-1`, each holding `Owner` and
  `ExpiresAt`. One consistent Query finds the free or expired slots, then a
  conditional put (`attribute_not_exists(Pk) OR ExpiresAt < now`) claims one,
  so two instances never hold the same slot. A holder renews its slot while it
  lives (`renew_slot`: open streams) or lets it run out (new leads per phone).

A refusal carries `retry_after` (whole seconds, at least 1): the moment a
window ends or the first slot frees. `clock` (epoch seconds) is injectable:
tests move time instead of waiting for it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.tables import LIMITS


@dataclass(frozen=True)
class Refusal:
    """The limit is reached; `retry_after` seconds until it may pass."""

    retry_after: int

    def error(self, reason: str, message: str) -> ApiError:
        """The 429 answer (`Retry-After` header and `retryAfter` in the body)."""
        return ApiError(
            429,
            reason,
            message,
            headers={"Retry-After": str(self.retry_after)},
            retryAfter=self.retry_after,
        )


@dataclass(frozen=True)
class Slot:
    scope: str
    index: int
    owner: str


def _seconds_until(moment: float, now: float) -> int:
    # stored times have milliseconds: do not round 86400.0004 up to 86401
    return max(1, math.ceil(moment - now - 0.001))


def _free_indexes(held: dict[int, float], count: int, now: float) -> Iterator[int]:
    """Slot numbers below `count` that are free or expired, lowest first (lazily:
    `count` may be huge when a limit is effectively off)."""
    index = 0
    while index < count:
        if held.get(index, 0.0) <= now:
            yield index
        index += 1
        if index > len(held) + 8:
            return  # past every held slot: enough free ones were offered


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


class Limits:
    def __init__(self, tables: Any, clock: Callable[[], float]) -> None:
        self.table = tables.table(LIMITS)
        self.clock = clock

    # ---- rates ----

    def hit(self, scope: str, limit: int, window_s: float) -> Refusal | None:
        """Count one request of `scope`; a Refusal when `limit` were already counted
        in the current window of `window_s` seconds (that request is not counted)."""
        now = self.clock()
        window = math.floor(now / window_s)
        ends = (window + 1) * window_s
        if limit <= 0:
            return Refusal(_seconds_until(ends, now))
        try:
            self.table.update_item(
                Key={"Pk": f"rate#{scope}", "Sk": str(window)},
                UpdateExpression="ADD Hits :one SET ExpiresAt = if_not_exists(ExpiresAt, :exp)",
                ConditionExpression="attribute_not_exists(Hits) OR Hits < :limit",
                ExpressionAttributeValues={
                    ":one": 1,
                    ":limit": int(limit),
                    ":exp": int(ends) + 60,
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return Refusal(_seconds_until(ends, now))
            raise
        return None

    # ---- slots ----

    def take_slot(
        self, scope: str, count: int, hold_s: float, owner: str | None = None
    ) -> Slot | Refusal:
        """Hold one of `count` slots of `scope` for `hold_s` seconds, or a Refusal."""
        owner = owner or uuid.uuid4().hex
        now = self.clock()
        # times are stored with milliseconds: a slot whose end rounds a hair past
        # `now` has run out all the same
        over = now + 0.001
        pk = f"slots#{scope}"
        resp = self.table.query(KeyConditionExpression=Key("Pk").eq(pk), ConsistentRead=True)
        held = {
            int(item["Sk"]): float(item.get("ExpiresAt", 0))
            for item in resp.get("Items", [])
            if str(item.get("Sk", "")).isdigit()
        }
        for index in _free_indexes(held, count, over):
            try:
                self.table.put_item(
                    Item={
                        "Pk": pk,
                        "Sk": str(index),
                        "Owner": owner,
                        "ExpiresAt": _num(now + hold_s),
                        "TakenAt": _num(now),
                    },
                    ConditionExpression="attribute_not_exists(Pk) OR ExpiresAt <= :now",
                    ExpressionAttributeValues={":now": _num(over)},
                )
                return Slot(scope, index, owner)
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        live = [until for i, until in held.items() if i < count and until > over]
        return Refusal(_seconds_until(min(live), now) if live else 1)

    def renew_slot(self, slot: Slot, hold_s: float) -> bool:
        """Keep holding `slot` for `hold_s` more seconds; False when it was lost
        (it ran out and somebody else took it)."""
        try:
            self.table.update_item(
                Key={"Pk": f"slots#{slot.scope}", "Sk": str(slot.index)},
                UpdateExpression="SET ExpiresAt = :exp",
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "Owner"},
                ExpressionAttributeValues={":me": slot.owner, ":exp": _num(self.clock() + hold_s)},
            )
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def release_slot(self, slot: Slot) -> None:
        try:
            self.table.delete_item(
                Key={"Pk": f"slots#{slot.scope}", "Sk": str(slot.index)},
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "Owner"},
                ExpressionAttributeValues={":me": slot.owner},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

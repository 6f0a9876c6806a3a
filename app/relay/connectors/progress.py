"""Exactly once toward each system: the intent of every POST is recorded in the
lead item before the POST, and settled after it.

`ConnectorProgress.<Name>` (a relay-owned attribute of the lead item, beside the
original's `Integrations`):

- `InFlight` `{Op, Key, Token, At}`: a POST that was sent, or is about to be, and
  whose answer is not recorded yet. Recording it is a version-guarded update, so
  of two holders of one lead only one claims a step; a holder finding someone
  else's `InFlight` knows an earlier attempt may have reached the far side.
- `Done` `[Key, ...]`: steps that succeeded, for connectors whose `Data` does not
  show it (Act-On and FloorForce store none, as the original);
- `Unconfirmed` `[Key, ...]`: steps whose outcome stayed unknown (the relay died
  between the POST and its record, or the answer never came) and that were not
  sent again, so the far side holds them once or not at all.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.relay.connectors.fields import PROGRESS_ATTR
from app.relay.connectors.records import Item, Updates, get_lead, now_iso, update_lead

ATTR = PROGRESS_ATTR
#: unconfirmed keys kept per connector (the oldest are dropped)
MAX_UNCONFIRMED = 50


@dataclass(frozen=True)
class InFlight:
    op: str
    key: str
    token: str
    at: str
    #: epoch seconds by which a live holder has settled it (its call's budget)
    until: float = 0.0

    @classmethod
    def of(cls, raw: Any) -> InFlight | None:
        if not isinstance(raw, dict) or not raw.get("Token"):
            return None
        until = float(raw.get("Until") or 0)
        return cls(
            str(raw.get("Op")), str(raw.get("Key")), str(raw["Token"]), str(raw.get("At")), until
        )

    def may_be_live(self) -> bool:
        """Its holder may still be waiting for the answer."""
        return time.time() < self.until


def progress(lead: Item, name: str) -> dict[str, Any]:
    return dict((lead.get(ATTR) or {}).get(name) or {})


def in_flight(lead: Item, name: str) -> InFlight | None:
    return InFlight.of(progress(lead, name).get("InFlight"))


def done(lead: Item, name: str) -> list[str]:
    """Steps recorded as done that leave no trace in `Data` (Act-On, FloorForce)."""
    return [str(k) for k in progress(lead, name).get("Done") or []]


def unconfirmed(lead: Item, name: str) -> list[str]:
    return [str(k) for k in progress(lead, name).get("Unconfirmed") or []]


def _with_progress(cur: Item, name: str, value: dict[str, Any]) -> Updates:
    everything = dict(cur.get(ATTR) or {})
    everything[name] = value
    return {ATTR: everything}


def claim(
    tables: Any,
    lead_id: str,
    name: str,
    op: str,
    key: str,
    done: Callable[[Item], bool] = lambda lead: False,
    budget_s: float = 120.0,
) -> InFlight:
    """Record the intent to send (`op`, `key`), unless `done(lead)` says the step is
    recorded already (`AlreadyDone`: another holder of the lead sent it meanwhile)
    or an intent is recorded (`Claimed`, carrying it: its fate is unknown). The
    check and the write are one version-guarded update."""
    token = secrets.token_hex(8)

    def fn(cur: Item) -> Updates:
        if done(cur):
            raise AlreadyDone(key)
        found = InFlight.of(progress(cur, name).get("InFlight"))
        if found is not None:
            raise Claimed(found)
        until = Decimal(str(round(time.time() + budget_s, 3)))
        mine = {"Op": op, "Key": key, "Token": token, "At": now_iso(), "Until": until}
        return _with_progress(cur, name, {**progress(cur, name), "InFlight": mine})

    update_lead(tables, lead_id, fn)
    return InFlight(op, key, token, "")


class AlreadyDone(Exception):
    pass


class Claimed(Exception):
    def __init__(self, found: InFlight) -> None:
        super().__init__(f"{found.op} {found.key} in flight")
        self.found = found


def settle(
    tables: Any,
    lead_id: str,
    name: str,
    token: str,
    *,
    data: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    unconfirmed_key: str | None = None,
    done_key: str | None = None,
) -> Item:
    """Clear the intent `token` and, in the same write, apply `data` to the
    connector's `Data` (creating its state as NOT SYNCED) and note an unconfirmed
    key. Returns the lead as written."""

    def fn(cur: Item) -> Updates | None:
        mine = progress(cur, name)
        current = InFlight.of(mine.get("InFlight"))
        if current is not None and current.token == token:
            mine.pop("InFlight", None)
        if unconfirmed_key is not None:
            keys = [k for k in mine.get("Unconfirmed") or [] if k != unconfirmed_key]
            mine["Unconfirmed"] = [*keys, unconfirmed_key][-MAX_UNCONFIRMED:]
        if done_key is not None:
            mine["Done"] = sorted({*mine.get("Done", []), done_key})
        updates = _with_progress(cur, name, mine)
        if data is not None:
            integrations = dict(cur.get("Integrations") or {})
            state = dict(integrations.get(name) or {"SyncStatus": "NOT SYNCED"})
            state["Data"] = data(dict(state.get("Data") or {}))
            integrations[name] = state
            updates["Integrations"] = integrations
        return updates

    updated = update_lead(tables, lead_id, fn)
    return updated if updated is not None else (get_lead(tables, lead_id) or {})


def give_up(tables: Any, lead_id: str, name: str, token: str) -> None:
    """The holder of intent `token` stopped waiting for its answer (it timed out):
    the intent stays, but the next attempt may resolve it at once."""

    def fn(cur: Item) -> Updates | None:
        mine = progress(cur, name)
        current = mine.get("InFlight")
        if not isinstance(current, dict) or current.get("Token") != token:
            return None
        mine["InFlight"] = {**current, "Until": 0}
        return _with_progress(cur, name, mine)

    update_lead(tables, lead_id, fn)


def forget_unconfirmed(tables: Any, lead_id: str, name: str) -> list[str]:
    """An operator's decision (`admin connector-resend`): the connector's unconfirmed
    steps (and an intent left in flight) are sent again on its next sync. Returns
    the keys forgotten."""
    forgotten: list[str] = []

    def fn(cur: Item) -> Updates | None:
        mine = progress(cur, name)
        keys = [str(k) for k in mine.get("Unconfirmed") or []]
        found = InFlight.of(mine.pop("InFlight", None))
        if found is not None:
            keys.append(found.key)
        if not keys:
            return None
        forgotten[:] = keys
        mine.pop("Unconfirmed", None)
        updates = _with_progress(cur, name, mine)
        integrations = dict(cur.get("Integrations") or {})
        state = dict(integrations.get(name) or {})
        data = dict(state.get("Data") or {})
        if "SyncedMessageIds" in data:
            data["SyncedMessageIds"] = [m for m in data["SyncedMessageIds"] if m not in keys]
        if "botpress-summary" in keys and "SentBotpressSummary" in data:
            data["SentBotpressSummary"] = False
        if state:
            state["Data"] = data
            integrations[name] = state
            updates["Integrations"] = integrations
        return updates

    update_lead(tables, lead_id, fn)
    return forgotten

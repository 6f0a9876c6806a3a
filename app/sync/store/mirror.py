"""Applying the relay's changes (and `/v1/me`) to the local mirror.

A change carries its entity's full state and version. A change whose version is
not greater than the stored one is ignored (duplicates and reordering are
normal); a message's status only moves forward. One transaction per batch,
the new cursor included, so a crash never leaves the cursor ahead of the data.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from app.sync.api import Me
from app.sync.store.access import write_tx
from app.sync.store.meta import put_cursor, put_me
from app.sync.store.mirror_messages import apply_messages
from app.sync.store.overlay import overlay_pending
from app.sync.store.result import ApplyResult
from app.sync.store.rows import (
    CONVERSATION_UPSERT,
    LEAD_UPSERT,
    LOCATION_UPSERT,
    MalformedChange,
    conversation_params,
    field,
    lead_params,
    location_params,
)

log = logging.getLogger(__name__)


def apply_changes(
    conn: sa.Connection, changes: Sequence[dict[str, Any]], cursor: str | None
) -> ApplyResult:
    """Apply one batch of changes and the new cursor in one transaction.

    Should the batch break a constraint (data no relay should send), it is
    applied change by change instead, skipping the offending ones: one bad
    change must not stop the feed forever.
    """
    try:
        return _apply_batch(conn, changes, cursor)
    except sqlite3.IntegrityError as exc:
        log.warning("batch of %d changes failed (%s); applying one by one", len(changes), exc)
    total = ApplyResult()
    for change in changes:
        try:
            total.add(_apply_batch(conn, [change], None))
        except sqlite3.IntegrityError as exc:
            total.skipped += 1
            log.warning("skipping change %s/%s: %s", change.get("entity"), change.get("id"), exc)
    if cursor is not None:
        with write_tx(conn) as cur:
            put_cursor(cur, cursor)
    return total


class _Batch:
    """A batch's changes sorted by entity, as the rows to write."""

    def __init__(self, changes: Sequence[dict[str, Any]], result: ApplyResult) -> None:
        self.locations: list[tuple[Any, ...]] = []
        self.leads: list[tuple[Any, ...]] = []
        self.conversations: list[tuple[Any, ...]] = []
        self.messages: list[tuple[dict[str, Any], int]] = []
        for change in changes:
            try:
                self._sort(change, result)
            except (KeyError, TypeError, ValueError) as exc:
                result.skipped += 1
                log.warning("skipping malformed change %s/%s: %s",
                            change.get("entity") if isinstance(change, dict) else "?",
                            change.get("id") if isinstance(change, dict) else "?", exc)

    def _sort(self, change: dict[str, Any], result: ApplyResult) -> None:
        entity = change["entity"]
        data = change["data"]
        version = int(change["version"])
        if entity == "lead":
            self.leads.append(lead_params(data, version))
        elif entity == "conversation":
            self.conversations.append(conversation_params(data, version))
        elif entity == "message":
            if not field(data, "messageSid", "message_sid"):
                raise MalformedChange("message without messageSid")
            self.messages.append((data, version))
        elif entity == "location":
            self.locations.append(location_params(data, version))
        else:
            result.skipped += 1  # a newer relay's entity kind: not ours to mirror


def _apply_batch(
    conn: sa.Connection, changes: Sequence[dict[str, Any]], cursor: str | None
) -> ApplyResult:
    result = ApplyResult()
    batch = _Batch(changes, result)
    with write_tx(conn) as cur:
        _upsert(cur, LOCATION_UPSERT, batch.locations, result.location_ids, None)
        _upsert(cur, LEAD_UPSERT, batch.leads, result.lead_ids, result)
        _upsert(cur, CONVERSATION_UPSERT, batch.conversations, result.conversation_sids, result)
        # leads first so that inbound notifications can name the customer
        apply_messages(cur, batch.messages, result)
        overlay_pending(cur, result.lead_ids, result.conversation_sids)
        if cursor is not None:
            put_cursor(cur, cursor)
    return result


def _upsert(cur: sqlite3.Cursor, sql: str, rows: list[tuple[Any, ...]], ids: set[str],
            count_skips: ApplyResult | None) -> None:
    """Version-guarded upserts; the ids of the rows written go to `ids`."""
    for params in rows:
        if cur.execute(sql, params).rowcount:
            ids.add(str(params[0]))
        elif count_skips is not None:
            count_skips.skipped += 1


def save_me(conn: sa.Connection, staff: dict[str, Any]) -> tuple[Me, set[str]]:
    """Store `/v1/me` (and the locations it lists); returns the Me and touched location ids."""
    locations = field(staff, "locations", default=[]) or []
    me = Me(
        staff_id=str(field(staff, "staffId", "staff_id")),
        name=str(field(staff, "name")),
        retailer_id=str(field(staff, "retailerId", "retailer_id")),
        location_ids=tuple(str(field(loc, "locationId", "location_id")) for loc in locations),
    )
    touched: set[str] = set()
    with write_tx(conn) as cur:
        put_me(cur, me)
        rows = [location_params(loc, int(field(loc, "version", default=0) or 0))
                for loc in locations]
        _upsert(cur, LOCATION_UPSERT, rows, touched, None)
    return me, touched

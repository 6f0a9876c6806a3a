"""Applying the relay's changes (and `/v1/me`) to the local mirror.

A change carries its entity's full state and version. A change whose version is
not greater than the stored one is ignored (duplicates and reordering are
normal); a message's status only moves forward. One transaction per batch,
the new cursor included, so a crash never leaves the cursor ahead of the data.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from app.core.wire import ScheduledView, StaffView
from app.core.wire_team import TemplatesView
from app.sync.api import Me
from app.sync.feed import (
    ChangeParser,
    ConversationChange,
    LeadChange,
    MessageChange,
    ReceivedChange,
    ScheduledChange,
    TemplatesChange,
)
from app.sync.store.access import write_tx
from app.sync.store.meta import put_cursor, put_me
from app.sync.store.mirror_messages import apply_messages
from app.sync.store.mirror_scheduled import apply_scheduled
from app.sync.store.overlay import overlay_pending
from app.sync.store.result import ApplyResult
from app.sync.store.rows import (
    CONVERSATION_UPSERT,
    LEAD_UPSERT,
    LOCATION_UPSERT,
    MessageRow,
    conversation_params,
    lead_params,
    location_params,
)
from app.sync.store.shared_templates import put_shared_templates

log = logging.getLogger(__name__)

_C = TypeVar("_C")


def apply_changes(
    conn: sqlite3.Connection, changes: Sequence[object], cursor: str | None
) -> ApplyResult:
    """Apply one batch of the feed's changes (decoded JSON) and the new cursor.

    The changes are parsed into the wire models here, in the writer job (none of
    that per-change work runs on the engine's event loop), one at a time: a
    malformed change is skipped, not its batch.
    """
    return _apply_safely(conn, changes, cursor, _Batch.parse)


def apply_received(
    conn: sqlite3.Connection, changes: Sequence[ReceivedChange], cursor: str | None = None
) -> ApplyResult:
    """Apply changes parsed already (e.g. a lead the relay answered with)."""
    return _apply_safely(conn, changes, cursor, _Batch.of)


def _apply_safely(conn: sqlite3.Connection, changes: Sequence[_C], cursor: str | None,
                  sort: Callable[[Sequence[_C]], _Batch]) -> ApplyResult:
    """One transaction for the batch and its cursor.

    Should the batch break a constraint (data no relay should send), it is
    applied change by change instead, skipping the offending ones: one bad
    change must not stop the feed forever.
    """
    try:
        return _apply_batch(conn, sort(changes), cursor)
    except sqlite3.IntegrityError as exc:
        log.warning("batch of %d changes failed (%s); applying one by one", len(changes), exc)
    total = ApplyResult()
    for change in changes:
        try:
            total.add(_apply_batch(conn, sort([change]), None))
        except sqlite3.IntegrityError as exc:
            total.skipped += 1
            log.warning("skipping a change that breaks a constraint: %s", exc)
    if cursor is not None:
        with write_tx(conn) as cur:
            put_cursor(cur, cursor)
    return total


class _Batch:
    """A batch's changes sorted by entity, as the rows to write.

    Each change becomes its row values as soon as it is parsed, so a batch holds
    tuples rather than models until it is written.
    """

    def __init__(self) -> None:
        self.locations: list[tuple[Any, ...]] = []
        self.leads: list[tuple[Any, ...]] = []
        self.conversations: list[tuple[Any, ...]] = []
        self.messages: list[MessageRow] = []
        self.templates: list[TemplatesView] = []
        self.scheduled: list[ScheduledView] = []
        self.skipped = 0

    @classmethod
    def parse(cls, changes: Sequence[object]) -> _Batch:
        batch, parser = cls(), ChangeParser()
        for raw in changes:
            received = parser.parse(raw)
            if received is not None:
                batch.add(received)
        batch.skipped = parser.skipped
        return batch

    @classmethod
    def of(cls, changes: Sequence[ReceivedChange]) -> _Batch:
        batch = cls()
        for received in changes:
            batch.add(received)
        return batch

    def add(self, received: ReceivedChange) -> None:
        change, data = received.change, received.data
        if isinstance(change, MessageChange):
            self.messages.append(MessageRow.of(change.data, change.version))
        elif isinstance(change, LeadChange):
            self.leads.append(lead_params(change.data, change.version, data))
        elif isinstance(change, ConversationChange):
            self.conversations.append(conversation_params(change.data, change.version, data))
        elif isinstance(change, TemplatesChange):
            self.templates.append(change.data)
        elif isinstance(change, ScheduledChange):
            self.scheduled.append(change.data)
        else:
            self.locations.append(location_params(change.data, change.version, data))


def _apply_batch(conn: sqlite3.Connection, batch: _Batch, cursor: str | None) -> ApplyResult:
    result = ApplyResult(skipped=batch.skipped)
    with write_tx(conn) as cur:
        _upsert(cur, LOCATION_UPSERT, batch.locations, result.location_ids, None)
        _upsert(cur, LEAD_UPSERT, batch.leads, result.lead_ids, result)
        _upsert(cur, CONVERSATION_UPSERT, batch.conversations, result.conversation_sids, result)
        # leads first so that inbound notifications can name the customer
        apply_messages(cur, batch.messages, result)
        for view in batch.templates:
            if put_shared_templates(cur, view):
                result.location_ids.add(view.location_id)
        apply_scheduled(cur, batch.scheduled, result)
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


def save_me(conn: sqlite3.Connection, staff: StaffView | Mapping[str, Any]) -> tuple[Me, set[str]]:
    """Store `/v1/me` (and the locations it lists); returns the Me and touched location ids."""
    view = staff if isinstance(staff, StaffView) else StaffView.model_validate(staff)
    me = Me(staff_id=view.staff_id, name=view.name, retailer_id=view.retailer_id,
            location_ids=tuple(loc.location_id for loc in view.locations),
            min_app_version=view.min_app_version, latest_app_version=view.latest_app_version)
    touched: set[str] = set()
    with write_tx(conn) as cur:
        put_me(cur, me)
        rows = [location_params(loc, loc.version, loc.to_dict()) for loc in view.locations]
        _upsert(cur, LOCATION_UPSERT, rows, touched, None)
    return me, touched

"""Messages of one applied batch: version guard, forward-only status, our sends merged.

The batch's existing rows are read first (by SID, and by idempotency key for
our own sends) and compared in Python; new rows go in with one `executemany`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from app.core.message_status import MessageStatus, advance, parse_status
from app.sync.api import InboundMessage, ThreadStatus
from app.sync.inbox import parse_ts
from app.sync.store.access import chunks, marks
from app.sync.store.result import ApplyResult
from app.sync.store.rows import (
    MESSAGE_INSERT,
    MESSAGE_UPDATE,
    field,
    message_insert_params,
    message_update_params,
    norm_ts,
)

#: local message statuses (before the relay's own statuses take over)
LOCAL_STATUSES = frozenset({ThreadStatus.PENDING.value, ThreadStatus.FAILED_LOCAL.value,
                            ThreadStatus.ACCEPTED.value})

_SELECT_EXISTING = ("SELECT id, message_sid, idempotency_key, status, version, local_id "
                    "FROM messages WHERE {col} IN ({marks})")

Existing = tuple[Any, ...]  # id, message_sid, idempotency_key, status, version, local_id


def merge_status(current: str, new: str) -> str:
    """A message's status only moves forward; a local status gives way to the relay's."""
    if current in LOCAL_STATUSES:
        return new
    cur = parse_status(current)
    nxt = parse_status(new)
    if cur is None:
        return new
    if nxt is None:
        return current
    return advance(MessageStatus(cur), MessageStatus(nxt)).value


def dedupe(
    items: list[tuple[dict[str, Any], int]],
) -> list[tuple[dict[str, Any], int, str]]:
    """One entry per message SID: the highest version, with statuses folded forward."""
    best: dict[str, tuple[dict[str, Any], int, str]] = {}
    for d, version in items:
        sid = str(field(d, "messageSid", "message_sid"))
        status = str(field(d, "status", default="queued"))
        seen = best.get(sid)
        if seen is None:
            best[sid] = (d, version, status)
            continue
        merged = merge_status(seen[2], status)
        best[sid] = (d, version, merged) if version > seen[1] else (seen[0], seen[1], merged)
    return list(best.values())


def _existing(
    cur: sqlite3.Cursor, sids: list[str], keys: list[str]
) -> tuple[dict[str, Existing], dict[str, Existing]]:
    """Stored rows of the batch's messages: by SID, and our own sends by their key."""
    by_sid: dict[str, Existing] = {}
    by_key: dict[str, Existing] = {}
    for chunk in chunks(sids):
        sql = _SELECT_EXISTING.format(col="message_sid", marks=marks(len(chunk)))
        for found in cur.execute(sql, tuple(chunk)):
            by_sid[found[1]] = tuple(found)
    for chunk in chunks(keys):
        # a message of ours has its idempotency key as its local id (migration 0005)
        sql = _SELECT_EXISTING.format(col="local_id", marks=marks(len(chunk)))
        for found in cur.execute(sql + " AND idempotency_key = local_id", tuple(chunk)):
            by_key[found[2]] = tuple(found)
    return by_sid, by_key


def apply_messages(
    cur: sqlite3.Cursor, items: list[tuple[dict[str, Any], int]], result: ApplyResult
) -> None:
    if not items:
        return
    unique = dedupe(items)
    result.skipped += len(items) - len(unique)
    sids = [str(field(d, "messageSid", "message_sid")) for d, _, _ in unique]
    keys = [k for k in (field(d, "idempotencyKey", "idempotency_key") for d, _, _ in unique)
            if k]
    by_sid, by_key = _existing(cur, sids, keys)
    inserts: list[tuple[Any, ...]] = []
    new_customer: list[dict[str, Any]] = []
    for (d, version, status), sid in zip(unique, sids, strict=True):
        row = by_sid.get(sid) or _our_send(by_key, field(d, "idempotencyKey", "idempotency_key"))
        if row is None:
            # a mirrored message's local id is its SID (unique already; no ULID to make);
            # the key is kept only on our own rows: the relay may reuse one key on
            # several messages it writes (e.g. a lead's greeting and store notice)
            inserts.append(message_insert_params(d, sid, sid, None, status, version))
            result.message_sids.add(sid)
            if str(field(d, "authorKind", "author_kind")) == "customer":
                new_customer.append(d)
        elif _update(cur, row, d, sid, status, version, result):
            result.message_sids.add(sid)
        else:
            result.skipped += 1
    if inserts:
        cur.executemany(MESSAGE_INSERT, inserts)
    if new_customer:
        result.inbound.extend(inbound_of(cur, new_customer))


def _our_send(by_key: dict[str, Existing], key: Any) -> Existing | None:
    """Our own send coming back from the relay: its pending row takes the SID.

    Once: another message carrying the same key is not ours.
    """
    if not key:
        return None
    row = by_key.pop(key, None)
    return None if row is None or row[1] is not None else row


def _update(cur: sqlite3.Cursor, row: Existing, d: dict[str, Any], sid: str, status: str,
            version: int, result: ApplyResult) -> bool:
    """A newer version of a stored message; False when it is not newer."""
    rowid, old_sid, _old_key, old_status, old_version, local_id = row
    if version <= old_version:
        return False
    merged = merge_status(str(old_status), status)
    cur.execute(MESSAGE_UPDATE, message_update_params(d, sid, merged, version, rowid))
    if old_sid is None:
        result.confirmed[str(local_id)] = sid
    return True


def inbound_of(cur: sqlite3.Cursor, messages: list[dict[str, Any]]) -> list[InboundMessage]:
    """Notifications for new customer messages, named after their conversation's newest lead."""
    convs = sorted({str(field(d, "conversationSid", "conversation_sid")) for d in messages})
    newest: dict[str, tuple[str, str]] = {}
    for chunk in chunks(convs):
        for conv, lead_id, name in cur.execute(
                f"SELECT conversation_sid, lead_id, name FROM leads "
                f"WHERE conversation_sid IN ({marks(len(chunk))}) ORDER BY date_submitted",
                tuple(chunk)):
            newest[conv] = (lead_id, name)
    out = []
    for d in messages:
        conv = str(field(d, "conversationSid", "conversation_sid"))
        lead = newest.get(conv)
        out.append(InboundMessage(
            message_sid=str(field(d, "messageSid", "message_sid")),
            conversation_sid=conv,
            lead_id=None if lead is None else str(lead[0]),
            customer_name=str(lead[1]) if lead is not None else str(field(d, "author",
                                                                          default="")),
            location_id=str(field(d, "locationId", "location_id", "")),
            body=str(field(d, "body", default="")),
            at=parse_ts(norm_ts(field(d, "createdAt", "created_at"))) or datetime.now(UTC),
        ))
    return out

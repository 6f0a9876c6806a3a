"""Messages of one applied batch: version guard, forward-only status, our sends merged.

The batch's existing rows are read first (by SID, and by idempotency key for
our own sends) and compared in Python; new rows go in with one `executemany`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from app.core.message_status import MessageStatus, advance, parse_status
from app.core.statuses import AuthorKind
from app.sync.api import InboundMessage, ThreadStatus
from app.sync.inbox import parse_ts
from app.sync.media import media_items
from app.sync.store.access import chunks, marks
from app.sync.store.result import ApplyResult
from app.sync.store.rows import (
    MESSAGE_INSERT,
    MESSAGE_UPDATE,
    MessageRow,
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


def dedupe(items: list[MessageRow]) -> list[MessageRow]:
    """One entry per message SID: the highest version, with statuses folded forward."""
    best: dict[str, MessageRow] = {}
    for row in items:
        seen = best.get(row.message_sid)
        if seen is None:
            best[row.message_sid] = row
            continue
        newer = row if row.version > seen.version else seen
        best[row.message_sid] = newer._replace(status=merge_status(seen.status, row.status))
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


def apply_messages(cur: sqlite3.Cursor, items: list[MessageRow], result: ApplyResult) -> None:
    if not items:
        return
    unique = dedupe(items)
    result.skipped += len(items) - len(unique)
    by_sid, by_key = _existing(cur, [m.message_sid for m in unique],
                               [m.idempotency_key for m in unique if m.idempotency_key])
    inserts: list[tuple[Any, ...]] = []
    new_customer: list[MessageRow] = []
    for message in unique:
        sid = message.message_sid
        row = by_sid.get(sid) or _our_send(by_key, message.idempotency_key)
        if row is None:
            # a mirrored message's local id is its SID (unique already; no ULID to make)
            inserts.append(message.insert_params(sid))
            result.message_sids.add(sid)
            result.media_sids.extend(media_sids_of(message.media))
            result.thread_sids.add(message.conversation_sid)
            if message.author_kind == AuthorKind.CUSTOMER:
                new_customer.append(message)
        elif _update(cur, row, message, result):
            result.message_sids.add(sid)
            result.thread_sids.add(message.conversation_sid)
        else:
            result.skipped += 1
    if inserts:
        cur.executemany(MESSAGE_INSERT, inserts)
    if new_customer:
        result.inbound.extend(inbound_of(cur, new_customer))


def media_sids_of(media: str) -> list[str]:
    """The MediaSids of a row's `media` JSON (none for a message without photos)."""
    if media in ("", "[]"):
        return []
    return [item.sid for item in media_items(media) if item.sid]


def _our_send(by_key: dict[str, Existing], key: str | None) -> Existing | None:
    """Our own send coming back from the relay: its pending row takes the SID.

    Once: another message carrying the same key is not ours (the relay may reuse
    one key on several messages it writes, e.g. a lead's greeting and store notice).
    """
    if not key:
        return None
    row = by_key.pop(key, None)
    return None if row is None or row[1] is not None else row


def _update(cur: sqlite3.Cursor, row: Existing, message: MessageRow,
            result: ApplyResult) -> bool:
    """A newer version of a stored message; False when it is not newer."""
    rowid, old_sid, _old_key, old_status, old_version, local_id = row
    if message.version <= old_version:
        return False
    merged = message._replace(status=merge_status(str(old_status), message.status))
    cur.execute(MESSAGE_UPDATE, merged.update_params(rowid))
    if old_sid is None:
        result.confirmed[str(local_id)] = message.message_sid
    return True


def inbound_of(cur: sqlite3.Cursor, messages: list[MessageRow]) -> list[InboundMessage]:
    """Notifications for new customer messages, named after their conversation's newest lead."""
    convs = sorted({m.conversation_sid for m in messages})
    newest: dict[str, tuple[str, str]] = {}
    for chunk in chunks(convs):
        for conv, lead_id, name in cur.execute(
                f"SELECT conversation_sid, lead_id, name FROM leads "
                f"WHERE conversation_sid IN ({marks(len(chunk))}) ORDER BY date_submitted",
                tuple(chunk)):
            newest[conv] = (lead_id, name)
    out = []
    for m in messages:
        lead = newest.get(m.conversation_sid)
        out.append(InboundMessage(
            message_sid=m.message_sid,
            conversation_sid=m.conversation_sid,
            lead_id=None if lead is None else str(lead[0]),
            customer_name=str(lead[1]) if lead is not None else m.author,
            location_id=m.location_id,
            body=m.body,
            at=parse_ts(m.created_at) or datetime.now(UTC),
        ))
    return out

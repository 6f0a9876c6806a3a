"""Outbox rows through delivery: due heads of lanes, in flight, retried, failed, delivered.

A row is marked `inflight` (committed) before its request; rows in flight when
a process died return to `pending` on the next start with the same key, so the
relay's idempotency turns the resend into the first answer.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from ulid import ULID

from app.core.wire import MessageView
from app.sync.api import EngineError, ThreadStatus
from app.sync.store.access import read_one, read_rows, write_tx
from app.sync.store.outbox_row import (
    CLOSE_LEAD,
    CREATE_LEAD,
    INFLIGHT,
    OPT_OUT,
    OUTBOX_COLUMNS,
    SEND_MESSAGE,
    UPDATE_LEAD,
    OutboxRow,
)
from app.sync.store.outbox_staff import apply_close, apply_opt_out, drop_pending_lead
from app.sync.store.overlay import apply_lead_patch, restore_conversation, restore_lead
from app.sync.store.result import ApplyResult

#: no row waits longer than this (the longest backoff, a capped Retry-After, is
#: shorter): a due time further away comes from a clock that was set back since
MAX_WAIT_S = 900.0

#: the message a send row queued, found through its local id (`messages.outbox_id`
#: has no index since migration 0005: a queued message writes one b-tree fewer)
_MESSAGE_OF_ROW = ("local_id = (SELECT json_extract(payload, '$.localId') FROM outbox "
                   "WHERE outbox_id = ? AND kind = 'send_message')")


def requeue_inflight(conn: sqlite3.Connection) -> int:
    """Rows in flight when the last process died go back to the queue (same key)."""
    with write_tx(conn) as cur:
        # an interrupted attempt is not a failure: it does not grow the backoff
        cur.execute("UPDATE outbox SET state = 'pending', next_attempt_at = 0, "
                    "attempts = max(0, attempts - 1) WHERE state = 'inflight'")
        return int(cur.rowcount)


def expedite_pending(conn: sqlite3.Connection) -> int:
    """The relay is reachable again: rows waiting out a backoff may go now."""
    with write_tx(conn) as cur:
        cur.execute("UPDATE outbox SET next_attempt_at = 0 WHERE state = 'pending' "
                    "AND next_attempt_at > 0")
        return int(cur.rowcount)


def due_heads(
    conn: sqlite3.Connection, busy_lanes: Iterable[str], limit: int = 64
) -> tuple[list[OutboxRow], float | None]:
    """The first queued row of every idle lane that is due, and the earliest later due time."""
    # The outbox holds only undelivered rows and has no lane index (migration 0005
    # keeps the enqueue lean): one pass finds each lane's head.
    columns = ", ".join("o." + c.strip() for c in OUTBOX_COLUMNS.split(","))
    rows = read_rows(conn, f"""SELECT {columns} FROM outbox o JOIN (
               SELECT min(seq) AS head FROM outbox
               WHERE state IN ('pending', 'inflight') GROUP BY lane) h ON o.seq = h.head
           WHERE o.state = 'pending'
           ORDER BY o.next_attempt_at, o.seq""")
    busy = set(busy_lanes)
    now = time.time()
    due: list[OutboxRow] = []
    next_at: float | None = None
    for r in rows:
        if r.lane in busy:
            continue
        if r.next_attempt_at <= now or r.next_attempt_at > now + MAX_WAIT_S:
            if len(due) < limit:
                due.append(OutboxRow.of(r))
        elif next_at is None or r.next_attempt_at < next_at:
            next_at = r.next_attempt_at
    return due, next_at


def mark_inflight(conn: sqlite3.Connection, outbox_id: str) -> bool:
    with write_tx(conn) as cur:
        cur.execute("UPDATE outbox SET state = 'inflight', attempts = attempts + 1 "
                    "WHERE outbox_id = ? AND state = 'pending'", (outbox_id,))
        return bool(cur.rowcount)


def mark_retry(conn: sqlite3.Connection, outbox_id: str, delay: float, error: str) -> None:
    with write_tx(conn) as cur:
        cur.execute("UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? "
                    "WHERE outbox_id = ?", (time.time() + delay, error[:500], outbox_id))


def mark_failed(conn: sqlite3.Connection, outbox_id: str, reason: str, message: str) -> None:
    with write_tx(conn) as cur:
        cur.execute(
            "UPDATE outbox SET state = 'failed', reason = ?, error_message = ?, last_error = ? "
            "WHERE outbox_id = ?", (reason, message[:500], message[:500], outbox_id))
        cur.execute(
            "UPDATE messages SET status = 'failed_local', error_reason = ?, error_message = ? "
            f"WHERE {_MESSAGE_OF_ROW}", (reason, message[:500], outbox_id))
        # a refused edit no longer overlays the relay's state
        _take_off(cur, _queued_row(cur, outbox_id))


def rebase_row(conn: sqlite3.Connection, outbox_id: str, payload: dict[str, Any]) -> str:
    """A lead edit re-based after a 412 becomes a new request: new payload, new key.

    The old key's request was answered for good (412, no effect); reusing it with
    another If-Match would be a different request under the same key, which the
    relay rightly refuses (`idempotency_conflict`). Both are written before the
    new attempt, so a crash in between resends the re-based request, not the old.
    """
    key = str(ULID())
    with write_tx(conn) as cur:
        cur.execute(
            "UPDATE outbox SET payload = ?, idempotency_key = ?, state = 'pending', "
            "next_attempt_at = 0, last_error = 'rebased after 412' WHERE outbox_id = ?",
            (json.dumps(payload), key, outbox_id))
    return key


def keep_media_sid(conn: sqlite3.Connection, outbox_id: str, sid: str) -> None:
    """A send's photo was uploaded: its sid, kept before the send (and shown)."""
    with write_tx(conn) as cur:
        cur.execute("UPDATE outbox SET payload = json_set(payload, '$.mediaSid', ?) "
                    "WHERE outbox_id = ?", (sid, outbox_id))
        cur.execute("UPDATE messages SET media = json_set(media, '$[0].sid', ?) "
                    f"WHERE {_MESSAGE_OF_ROW}", (sid, outbox_id))


def mark_delivered(
    conn: sqlite3.Connection, row: OutboxRow, accepted: MessageView | None = None
) -> ApplyResult:
    """Remove the delivered row; a send's message becomes `accepted`, or takes the
    status and SID of the message the relay answered with."""
    result = ApplyResult()
    with write_tx(conn) as cur:
        if row.kind == SEND_MESSAGE and row.local_message_id:
            sid = accepted.message_sid if accepted else None
            status = accepted.status.value if accepted else None
            _confirm_send(cur, row.local_message_id, sid, status)
            if sid:
                result.message_sids.add(str(sid))
            if row.conversation_sid:
                result.thread_sids.add(row.conversation_sid)
                result.conversation_sids.add(row.conversation_sid)
        cur.execute("DELETE FROM outbox WHERE outbox_id = ?", (row.outbox_id,))
    return result


def _confirm_send(cur: sqlite3.Cursor, local_id: str, sid: str | None,
                  status: str | None) -> None:
    """The relay took our message: its status, and its SID when the 202 named it."""
    cur.execute(
        "UPDATE messages SET status = CASE WHEN status IN "
        "('pending', 'failed_local') THEN ? ELSE status END, "
        "error_reason = NULL, error_message = NULL, outbox_id = NULL WHERE local_id = ?",
        (ThreadStatus.ACCEPTED.value if not status else str(status), local_id))
    if not sid:
        return
    # a 202 may name the message before the change feed does
    clash = cur.execute("SELECT local_id FROM messages WHERE message_sid = ?",
                        (sid,)).fetchone()
    if clash is None:
        cur.execute("UPDATE messages SET message_sid = ? WHERE local_id = ?", (sid, local_id))
    elif clash[0] != local_id:
        cur.execute("DELETE FROM messages WHERE local_id = ?", (local_id,))


def _queued_row(cur: sqlite3.Cursor, outbox_id: str) -> OutboxRow:
    r = cur.execute(f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE outbox_id = ?",
                    (outbox_id,)).fetchone()
    if r is None:
        raise EngineError("outbox_not_found", f"no queued item {outbox_id}")
    return OutboxRow.of(r)


def retry_row(conn: sqlite3.Connection, outbox_id: str, force: bool = False) -> OutboxRow:
    with write_tx(conn) as cur:
        row = _queued_row(cur, outbox_id)
        payload = dict(row.payload)
        if force:
            payload["force"] = True
        cur.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = 0, reason = NULL, "
            "error_message = NULL, payload = ? WHERE outbox_id = ? AND state != 'inflight'",
            (json.dumps(payload), outbox_id))
        cur.execute(
            "UPDATE messages SET status = 'pending', error_reason = NULL, error_message = NULL "
            f"WHERE {_MESSAGE_OF_ROW}", (outbox_id,))
        if row.kind == UPDATE_LEAD and row.lead_id:
            apply_lead_patch(cur, row.lead_id, payload)
        elif row.kind == CLOSE_LEAD and row.lead_id:
            apply_close(cur, row.lead_id)
        elif row.kind == OPT_OUT and row.conversation_sid:
            apply_opt_out(cur, row.conversation_sid)
    return row


def discard_row(conn: sqlite3.Connection, outbox_id: str) -> OutboxRow:
    """Drop a queued/failed row and its local effect (the relay's state comes back)."""
    with write_tx(conn) as cur:
        row = _queued_row(cur, outbox_id)
        if row.state == INFLIGHT:
            raise EngineError("in_flight", "the item is being delivered right now")
        cur.execute(
            f"DELETE FROM messages WHERE {_MESSAGE_OF_ROW} AND message_sid IS NULL", (outbox_id,))
        cur.execute("DELETE FROM outbox WHERE outbox_id = ?", (outbox_id,))
        _take_off(cur, row)
        if row.kind == CREATE_LEAD and row.lead_id:
            drop_pending_lead(cur, row.lead_id)
    return row


def _take_off(cur: sqlite3.Cursor, row: OutboxRow) -> None:
    """The local effect of a row that left the queue without taking effect."""
    if row.kind in (UPDATE_LEAD, CLOSE_LEAD) and row.lead_id:
        restore_lead(cur, row.lead_id)
    elif row.kind == OPT_OUT and row.conversation_sid:
        restore_conversation(cur, row.conversation_sid)


def outbox_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(waiting or in flight, failed)."""
    row = read_one(conn, "SELECT sum(state != 'failed'), sum(state = 'failed') FROM outbox")
    return int(row[0] or 0), int(row[1] or 0)


def list_outbox(conn: sqlite3.Connection) -> list[OutboxRow]:
    return [OutboxRow.of(r)
            for r in read_rows(conn, f"SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY seq")]

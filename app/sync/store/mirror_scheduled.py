"""Texts for later in the local store: a row of `messages` per text still to go.

A send queued with `send_at` is a pending message like any other; once the relay
took it (202) the row takes the scheduled text's id (`W2TS…`) as its
`message_sid`, the status `scheduled` and its send time as `created_at`, so the
thread shows it last, at its time (`confirm_scheduled`). The feed's `scheduled`
changes keep it current on every desktop (`apply_scheduled`): a text being sent
shows `sending`, a failed one `failed` with the reason; once sent or cancelled
the row goes (the text sent arrives as a message of its own).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from app.core.wire import ScheduledStatus, ScheduledView
from app.sync.store.access import write_tx
from app.sync.store.outbox_row import OutboxRow
from app.sync.store.result import ApplyResult

#: scheduled states shown in the thread (the others remove the row)
_SHOWN = {
    ScheduledStatus.SCHEDULED: "scheduled",
    ScheduledStatus.SENDING: "sending",
    ScheduledStatus.FAILED: "failed",
}

_INSERT = """INSERT INTO messages (local_id, message_sid, idempotency_key, conversation_sid,
        location_id, author, author_kind, staff_id, staff_name, body, status, error_reason,
        error_message, created_at, version)
    VALUES (?, ?, ?, ?, ?, ?, 'staff', ?, ?, ?, ?, ?, ?, ?, ?)"""


def _iso(view: ScheduledView) -> str:
    return view.send_at.isoformat()


def confirm_scheduled(conn: sqlite3.Connection, row: OutboxRow, view: ScheduledView) -> None:
    """The relay took a text for later: its row becomes the scheduled text."""
    if not row.local_message_id:
        return
    with write_tx(conn) as cur:
        taken = cur.execute("SELECT local_id FROM messages WHERE message_sid = ?",
                            (view.message_sid,)).fetchone()
        if taken is not None and taken[0] != row.local_message_id:
            # the feed was first: its row stays, ours goes
            cur.execute("DELETE FROM messages WHERE local_id = ?", (row.local_message_id,))
            return
        cur.execute(
            "UPDATE messages SET message_sid = ?, status = ?, created_at = ?, version = ? "
            "WHERE local_id = ?",
            (view.message_sid, _SHOWN.get(view.status, "scheduled"), _iso(view),
             view.version, row.local_message_id))


def apply_scheduled(cur: sqlite3.Cursor, views: Sequence[ScheduledView],
                    result: ApplyResult) -> None:
    for view in views:
        result.conversation_sids.add(view.conversation_sid)
        shown = _SHOWN.get(view.status)
        if shown is None:  # sent (its message arrives on its own) or cancelled
            cur.execute("DELETE FROM messages WHERE message_sid = ?", (view.message_sid,))
            continue
        values = (shown, _iso(view), view.error_reason, view.error_message, view.version)
        updated = cur.execute(
            "UPDATE messages SET status = ?, created_at = ?, error_reason = ?, "
            "error_message = ?, version = ? WHERE message_sid = ? AND version < ?",
            (*values, view.message_sid, view.version)).rowcount
        if updated or cur.execute("SELECT 1 FROM messages WHERE message_sid = ?",
                                  (view.message_sid,)).fetchone():
            continue
        if view.idempotency_key and cur.execute(
                "UPDATE messages SET message_sid = ?, status = ?, created_at = ?, "
                "error_reason = ?, error_message = ?, version = ? WHERE idempotency_key = ?",
                (view.message_sid, *values, view.idempotency_key)).rowcount:
            continue  # our own pending send, before its 202 was handled
        cur.execute(_INSERT, (
            view.message_sid, view.message_sid, None, view.conversation_sid, view.location_id,
            view.staff_id or "", view.staff_id, view.staff_name or "", view.body, shown,
            view.error_reason, view.error_message, _iso(view), view.version))


def cancel_locally(cur: sqlite3.Cursor, message_sid: str) -> str | None:
    """A cancel queued: the text leaves the thread at once; its conversation."""
    row = cur.execute("SELECT conversation_sid FROM messages WHERE message_sid = ?",
                      (message_sid,)).fetchone()
    cur.execute("DELETE FROM messages WHERE message_sid = ? AND status = 'scheduled'",
                (message_sid,))
    return None if row is None else str(row[0])

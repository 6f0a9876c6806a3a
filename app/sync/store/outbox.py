"""The outbox: what the user did, written with its local effect in one durable transaction.

A row is delivered by the engine (`app.sync.delivery`), in order within its lane
(a conversation for sends and read receipts, a lead for lead edits). Its
delivery states live in `app.sync.store.outbox_delivery`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from ulid import ULID

from app.sync.api import EngineError, Me, ThreadMessage, ThreadStatus
from app.sync.inbox import parse_ts
from app.sync.media import StagedAttachment
from app.sync.store.access import write_tx
from app.sync.store.outbox_row import MARK_READ, SEND_MESSAGE, UPDATE_LEAD
from app.sync.store.overlay import apply_lead_patch
from app.sync.store.rows import now_iso

_OUTBOX_INSERT = """INSERT INTO outbox (outbox_id, kind, lane, conversation_sid, lead_id,
        idempotency_key, payload, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)"""

_PENDING_MESSAGE_INSERT = """INSERT INTO messages (local_id, idempotency_key, conversation_sid,
        location_id, author, author_kind, staff_id, staff_name, body, status, created_at,
        version, outbox_id, media)
    VALUES (?, ?, ?, (SELECT location_id FROM conversations WHERE conversation_sid = ?),
            ?, 'staff', ?, ?, ?, 'pending', ?, 0, ?, ?)"""


def enqueue_send(
    conn: sqlite3.Connection,
    conversation_sid: str,
    body: str,
    me: Me | None,
    attachment: StagedAttachment | None = None,
    now: str | None = None,
    send_at: datetime | None = None,
) -> ThreadMessage:
    """The pending message and its outbox row, in one durable transaction. An
    `attachment` (already copied into the data folder) goes with the row's payload
    and is uploaded by the delivery (`app.sync.delivery`).

    `now`: the relay's time (`app.sync.clock`), which orders the message in its thread;
    this PC's clock when not given."""
    if not body.strip() and attachment is None:
        raise EngineError("empty_body", "the message is empty")
    if not conversation_sid.strip():
        raise EngineError("invalid_conversation", "no conversation given")
    # One identity for the queued send: its ULID names the message, its outbox row
    # and the idempotency key the relay sees (born with the local effect). The
    # relay's copy of the message is matched to this row by local id = key
    # (migration 0005: no index of its own on the key), and one ULID instead of
    # three keeps the enqueue lean.
    local_id = outbox_id = key = str(ULID())
    created = now or now_iso()
    author_name = me.name if me else "You"
    payload: dict[str, Any] = {"body": body, "localId": local_id}
    media = "[]"
    if send_at is not None:  # a text for later: the relay sends it then
        payload["sendAt"] = send_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if attachment is not None:
        payload["attachment"] = attachment.payload()
        media = json.dumps([{
            "contentType": attachment.content_type, "filename": attachment.filename,
            "size": attachment.size, "localPath": str(attachment.path)}])
    with write_tx(conn) as cur:
        cur.execute(
            _OUTBOX_INSERT,
            (outbox_id, SEND_MESSAGE, "c:" + conversation_sid, conversation_sid, None, key,
             json.dumps(payload), created),
        )
        cur.execute(
            _PENDING_MESSAGE_INSERT,
            (local_id, key, conversation_sid, conversation_sid,
             me.staff_id if me else "", me.staff_id if me else None, author_name, body,
             created, outbox_id, media),
        )
    return ThreadMessage(
        local_id=local_id, message_sid=None, conversation_sid=conversation_sid,
        author_kind="staff", author_name=author_name, body=body,
        created_at=parse_ts(created) or datetime.now(UTC), status=ThreadStatus.PENDING.value,
        outbox_id=outbox_id, media=(attachment.item(),) if attachment else (),
    )


_UNSET: Any = object()


def _lead_patch(
    current: tuple[Any, Any], status: Any, assignee_id: Any, note: str | None,
    possible_opt_out: bool | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The patch to send, and the values it was based on (for a 412 re-base)."""
    cur_status, cur_assignee = current
    patch: dict[str, Any] = {}
    base: dict[str, Any] = {}
    if status is not _UNSET:
        patch["status"] = str(status)
        base["status"] = cur_status
    if assignee_id is not _UNSET:
        patch["assigneeId"] = assignee_id
        base["assigneeId"] = cur_assignee
    if note is not None:
        if not note.strip():
            raise EngineError("empty_note", "the note is empty")
        patch["note"] = note
    if possible_opt_out is False:
        patch["possibleOptOut"] = False
    if not patch:
        raise EngineError("empty_update", "nothing to change")
    return patch, base


def enqueue_update_lead(
    conn: sqlite3.Connection,
    lead_id: str,
    *,
    status: Any = _UNSET,
    assignee_id: Any = _UNSET,
    assignee_name: str | None = None,
    note: str | None = None,
    me: Me | None = None,
    now: str | None = None,
    possible_opt_out: bool | None = None,
) -> str:
    """Apply a lead edit locally and queue it with the version it was based on."""
    now = now or now_iso()
    with write_tx(conn) as cur:
        row = cur.execute(
            "SELECT version, pipeline_status, assignee_id FROM leads WHERE lead_id = ?",
            (lead_id,)).fetchone()
        if row is None:
            raise EngineError("lead_not_found", f"no lead {lead_id} in the local store")
        patch, base = _lead_patch((row[1], row[2]), status, assignee_id, note,
                                  possible_opt_out)
        payload = {"patch": patch, "base": base, "baseVersion": int(row[0]),
                   "assigneeName": assignee_name, "noteAt": now,
                   "noteAuthor": me.name if me else None}
        outbox_id = str(ULID())
        cur.execute(
            _OUTBOX_INSERT,
            (outbox_id, UPDATE_LEAD, "l:" + lead_id, None, lead_id, str(ULID()),
             json.dumps(payload), now),
        )
        apply_lead_patch(cur, lead_id, payload)
    return outbox_id


def enqueue_mark_read(conn: sqlite3.Connection, conversation_sid: str,
                      now: str | None = None) -> str | None:
    """Zero the unread count and queue the read receipt (one pending receipt per conversation)."""
    with write_tx(conn) as cur:
        cur.execute(
            "UPDATE conversations SET unread_count = 0 WHERE conversation_sid = ?",
            (conversation_sid,))
        waiting = cur.execute(
            "SELECT outbox_id FROM outbox WHERE kind = 'mark_read' AND lane = ? "
            "AND state = 'pending'", ("c:" + conversation_sid,)).fetchone()
        if waiting is not None:
            return str(waiting[0])
        outbox_id = str(ULID())
        cur.execute(
            _OUTBOX_INSERT,
            (outbox_id, MARK_READ, "c:" + conversation_sid, conversation_sid, None, str(ULID()),
             "{}", now or now_iso()),
        )
    return outbox_id

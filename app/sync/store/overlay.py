"""Queued local edits laid over the mirrored rows.

A lead edit or read receipt waiting in the outbox shows at once, and an
incoming change does not briefly undo it: after every write of mirrored rows
the pending edits of those rows are applied again. When an edit leaves the
queue without taking effect (discarded, refused), the relay's state comes back.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from app.sync.store.outbox_row import CLOSE_LEAD, MARK_READ, OPT_OUT, UPDATE_LEAD
from app.sync.store.outbox_staff import apply_close, apply_opt_out
from app.sync.store.rows import stored_lead


def apply_lead_patch(cur: sqlite3.Cursor, lead_id: str, payload: dict[str, Any]) -> None:
    """A queued lead edit's visible effect: pipeline status, assignee, a dismissed
    possible opt-out."""
    patch = payload["patch"]
    if patch.get("possibleOptOut") is False:
        cur.execute("UPDATE leads SET possible_opt_out = 0 WHERE lead_id = ?", (lead_id,))
    if "status" in patch:
        cur.execute(
            "UPDATE leads SET pipeline_status = ? WHERE lead_id = ?", (patch["status"], lead_id))
    if "assigneeId" in patch:
        cur.execute(
            "UPDATE leads SET assignee_id = ?, assignee_name = ? WHERE lead_id = ?",
            (patch["assigneeId"], payload.get("assigneeName"), lead_id))


def overlay_pending(cur: sqlite3.Cursor, lead_ids: set[str], conv_sids: set[str]) -> None:
    """Re-apply queued local edits over freshly mirrored rows."""
    if not lead_ids and not conv_sids:
        return
    rows = cur.execute(
        "SELECT kind, lead_id, conversation_sid, payload FROM outbox "
        "WHERE state != 'failed' AND kind IN (?, ?, ?, ?) ORDER BY seq",
        (UPDATE_LEAD, MARK_READ, OPT_OUT, CLOSE_LEAD),
    ).fetchall()
    opted = _conversations_of(cur, lead_ids) | conv_sids
    for kind, lead_id, conv_sid, payload in rows:
        if kind == UPDATE_LEAD and lead_id in lead_ids:
            apply_lead_patch(cur, lead_id, json.loads(payload))
        elif kind == CLOSE_LEAD and lead_id in lead_ids:
            apply_close(cur, lead_id)
        elif kind == OPT_OUT and conv_sid in opted:
            apply_opt_out(cur, conv_sid)
        elif kind == MARK_READ and conv_sid in conv_sids:
            cur.execute(
                "UPDATE conversations SET unread_count = 0 WHERE conversation_sid = ?",
                (conv_sid,))


def _conversations_of(cur: sqlite3.Cursor, lead_ids: set[str]) -> set[str]:
    found: set[str] = set()
    for lead_id in lead_ids:
        row = cur.execute("SELECT conversation_sid FROM leads WHERE lead_id = ?",
                          (lead_id,)).fetchone()
        if row is not None and row[0]:
            found.add(str(row[0]))
    return found


def restore_lead(cur: sqlite3.Cursor, lead_id: str) -> None:
    """The lead as the relay last sent it, with the edits still queued on top."""
    row = cur.execute("SELECT data FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
    if row is None:
        return
    view = stored_lead(row[0])
    if view is not None:  # else a partial copy from an older build: nothing to restore from
        cur.execute(
            "UPDATE leads SET status = ?, pipeline_status = ?, assignee_id = ?, "
            "assignee_name = ?, opted_out = ?, possible_opt_out = ? WHERE lead_id = ?",
            (view.status.value, view.pipeline_status.value, view.assignee_id,
             view.assignee_name, int(view.opted_out), int(view.possible_opt_out), lead_id))
    overlay_pending(cur, {lead_id}, set())


def restore_conversation(cur: sqlite3.Cursor, conversation_sid: str) -> None:
    """A conversation and its leads as the relay last sent them, queued edits on top."""
    row = cur.execute("SELECT data FROM conversations WHERE conversation_sid = ?",
                      (conversation_sid,)).fetchone()
    if row is not None:
        opted = bool(json.loads(row[0]).get("optedOut", False))
        cur.execute("UPDATE conversations SET opted_out = ? WHERE conversation_sid = ?",
                    (int(opted), conversation_sid))
    for (lead_id,) in cur.execute("SELECT lead_id FROM leads WHERE conversation_sid = ?",
                                  (conversation_sid,)).fetchall():
        restore_lead(cur, str(lead_id))
    overlay_pending(cur, set(), {conversation_sid})

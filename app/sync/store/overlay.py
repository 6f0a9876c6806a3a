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

from app.sync.store.outbox_row import MARK_READ, UPDATE_LEAD
from app.sync.store.rows import stored_lead


def apply_lead_patch(cur: sqlite3.Cursor, lead_id: str, payload: dict[str, Any]) -> None:
    """A queued lead edit's visible effect: pipeline status and assignee."""
    patch = payload["patch"]
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
        "WHERE state != 'failed' AND kind IN ('update_lead', 'mark_read') ORDER BY seq"
    ).fetchall()
    for kind, lead_id, conv_sid, payload in rows:
        if kind == UPDATE_LEAD and lead_id in lead_ids:
            apply_lead_patch(cur, lead_id, json.loads(payload))
        elif kind == MARK_READ and conv_sid in conv_sids:
            cur.execute(
                "UPDATE conversations SET unread_count = 0 WHERE conversation_sid = ?",
                (conv_sid,))


def restore_lead(cur: sqlite3.Cursor, lead_id: str) -> None:
    """The lead as the relay last sent it, with the edits still queued on top."""
    row = cur.execute("SELECT data FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
    if row is None:
        return
    view = stored_lead(row[0])
    if view is not None:  # else a partial copy from an older build: nothing to restore from
        cur.execute(
            "UPDATE leads SET pipeline_status = ?, assignee_id = ?, assignee_name = ? "
            "WHERE lead_id = ?",
            (view.pipeline_status.value, view.assignee_id, view.assignee_name, lead_id))
    overlay_pending(cur, {lead_id}, set())

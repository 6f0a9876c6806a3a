"""Writing what a repair kept into the new store, and the store's own health writes.

The rows salvaged from a damaged store (`app.sync.salvage`) are queued again with
their ids, idempotency keys and order; a send's pending message is written again
from its row, so the thread shows it until the relay confirms it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from app.sync.store.access import write_tx
from app.sync.store.meta import get_meta, put_meta
from app.sync.store.outbox_row import FAILED, PENDING, SEND_MESSAGE

REPAIR_REPORT = "repair_report"
LAST_REPAIR = "last_repair"

_INSERT_ROW = """INSERT INTO outbox (outbox_id, kind, lane, conversation_sid, lead_id,
        idempotency_key, payload, state, attempts, next_attempt_at, reason, error_message,
        created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
    ON CONFLICT (outbox_id) DO NOTHING"""

_INSERT_MESSAGE = """INSERT INTO messages (local_id, idempotency_key, conversation_sid,
        author, author_kind, staff_id, staff_name, body, status, error_reason, error_message,
        created_at, version, outbox_id, media)
    VALUES (?, ?, ?, ?, 'staff', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
    ON CONFLICT (local_id) DO NOTHING"""


def restore_salvaged(conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]],
                     meta: Mapping[str, str], report: str) -> None:
    """Queue `rows` again (in order), restore `meta` and keep the repair's report."""
    me = json.loads(meta["me"]) if "me" in meta else {}
    staff_id, staff_name = me.get("staffId"), me.get("name") or "You"
    with write_tx(conn) as cur:
        for key, value in meta.items():
            put_meta(cur, key, value)
        put_meta(cur, REPAIR_REPORT, report)
        for r in rows:
            state = FAILED if r.get("state") == FAILED else PENDING
            cur.execute(_INSERT_ROW, (
                r["outbox_id"], r["kind"], r["lane"], r.get("conversation_sid"),
                r.get("lead_id"), r["idempotency_key"], r["payload"], state,
                int(r.get("attempts") or 0), r.get("reason") if state == FAILED else None,
                r.get("error_message") if state == FAILED else None,
                r.get("created_at") or "",
            ))
            if r["kind"] == SEND_MESSAGE and r.get("conversation_sid"):
                _restore_message(cur, r, state, staff_id, staff_name)


def _restore_message(cur: Any, r: Mapping[str, Any], state: str, staff_id: str | None,
                     staff_name: str) -> None:
    payload = json.loads(r["payload"])
    local_id = payload.get("localId") or r["idempotency_key"]
    failed = state == FAILED
    cur.execute(_INSERT_MESSAGE, (
        local_id, r["idempotency_key"], r["conversation_sid"], staff_id or "", staff_id,
        staff_name, str(payload.get("body", "")), "failed_local" if failed else "pending",
        r.get("reason") if failed else None, r.get("error_message") if failed else None,
        r.get("created_at") or "", r["outbox_id"], _media(payload.get("attachment")),
    ))


def _media(attachment: Any) -> str:
    """A queued send's photo as its pending message shows it (the staged copy)."""
    if not isinstance(attachment, dict) or not attachment.get("path"):
        return "[]"
    return json.dumps([{"contentType": attachment.get("contentType"),
                        "filename": attachment.get("filename"), "size": attachment.get("size"),
                        "localPath": attachment["path"]}])


def repair_report(conn: sqlite3.Connection) -> str | None:
    """The last repair's report, while the user has not been told of it."""
    return get_meta(conn, REPAIR_REPORT)


def acknowledge_repair(conn: sqlite3.Connection) -> None:
    """The user has been told: the report is kept as the last repair, not reported again."""
    with write_tx(conn) as cur:
        row = cur.execute("SELECT value FROM meta WHERE key = ?", (REPAIR_REPORT,)).fetchone()
        if row is not None:
            put_meta(cur, LAST_REPAIR, str(row[0]))
            cur.execute("DELETE FROM meta WHERE key = ?", (REPAIR_REPORT,))


def probe_write(conn: sqlite3.Connection, now: str) -> None:
    """A small durable write: the data folder takes writes again (or raises why not)."""
    with write_tx(conn) as cur:
        put_meta(cur, "probe_at", now)

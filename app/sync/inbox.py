"""The inbox query, shared by the store and the stdlib-only first page read at start-up.

Only the standard library and `app.sync.api`: `first_page` runs before the engine's
stack (SQLAlchemy, httpx) is imported, so that the desktop's first frame can show
the inbox straight from the local store. The store (`app.sync.store`) builds its
`list_leads`/`count_leads`/search SQL from the same functions, so both always
agree on columns, filters and order.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.sync.api import LeadFilter, LeadRow, Me

DB_FILENAME = "sync.db"
#: the newest migration; a store already there opens without importing Alembic
#: (half a second of start-up for `web2text-sync`). `test_migrations` checks it.
HEAD_REVISION = "0008"
#: rows read by `first_page`: a screenful and then some (the inbox pages in more)
FIRST_PAGE_ROWS = 100


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00") if value.endswith("Z") else value
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- search terms


def fts_query(query: str) -> tuple[str | None, str]:
    """An FTS5 MATCH expression for what the user typed, and a LIKE pattern fallback.

    Each word is quoted (FTS syntax characters in user input are literal). A
    phone-looking query is reduced to its digits. Trigram tokens need three
    characters; shorter words fall back to LIKE.
    """
    text = query.strip()
    digits = re.sub(r"\D", "", text)
    if digits and len(digits) >= 3 and re.fullmatch(r"[\d\s()+.\-]+", text):
        words = [digits]
    else:
        words = [w for w in text.split() if w]
    like = like_pattern(text)
    if not words or any(len(w) < 3 for w in words):
        return None, like
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words), like


def like_pattern(text: str) -> str:
    """`%text%` for `LIKE ? ESCAPE '\\'`, the user's `%` and `_` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped + "%"


def match_words(match: str) -> list[str]:
    """The words of an FTS expression made by `fts_query` (quoted, `""` escaped)."""
    return [w.replace('""', '"') for w in re.findall(r'"((?:[^"]|"")*)"', match)]


def unconfirmed_match(words: Sequence[str]) -> tuple[str, list[str]]:
    """Messages the relay has not confirmed yet are not in messages_fts (migration
    0003 keeps the durable enqueue free of FTS work); they are few, so they are
    matched here by LIKE on every word. Each has its send row in the outbox until
    it is confirmed, so they are found from there (0005 left no index that holds
    the messages without a MessageSid)."""
    clause = " AND ".join(["m.body LIKE ? ESCAPE '\\'"] * len(words))
    return ("SELECT m.id FROM outbox o JOIN messages m "
            "ON m.local_id = json_extract(o.payload, '$.localId') "
            f"WHERE o.kind = 'send_message' AND m.message_sid IS NULL AND {clause}",
            [like_pattern(w) for w in words])


# --------------------------------------------------------------------------- the inbox

LEAD_COLUMNS = """d.lead_id, d.conversation_sid, d.location_id, d.name, d.phone, d.status,
    d.pipeline_status, c.last_message_preview,
    d.activity_at,
    coalesce(c.unread_count, 0), d.assignee_id, d.assignee_name, d.date_submitted,
    d.first_staff_reply_at, d.opted_out OR coalesce(c.opted_out, 0), d.possible_opt_out,
    d.source"""

_FROM = "FROM leads d LEFT JOIN conversations c ON c.conversation_sid = d.conversation_sid"

#: the default reply target when a location names none (the relay's default too)
DEFAULT_REPLY_TARGET_MINUTES = 5

#: a scope of leads for `waiting_sql`: those named by id, by conversation or by
#: location (each a JSON array parameter, so that any number fits one statement)
WAITING_SCOPE = """SELECT lead_id FROM leads WHERE lead_id IN (SELECT value FROM json_each(?))
    UNION SELECT lead_id FROM leads WHERE conversation_sid IN (SELECT value FROM json_each(?))
    UNION SELECT lead_id FROM leads WHERE location_id IN (SELECT value FROM json_each(?))"""


def waiting_sql(scoped: bool = False) -> str:
    """Open leads whose customer waits for a reply: `lead_id, conversation_sid,
    location_id, name, since, target` (since: the lead's submission while nobody has
    answered in its conversation, else the first customer text after the last staff
    or store message; target: the location's reply target in minutes).

    `scoped`: only the leads of `WAITING_SCOPE` (three JSON array parameters), whose
    messages alone are read; else every lead's, which reads every message."""
    scope = "" if not scoped else f"""scope AS ({WAITING_SCOPE}),
    scope_threads AS (SELECT conversation_sid FROM leads WHERE lead_id IN scope),"""
    in_scope = "conversation_sid IN scope_threads AND" if scoped else ""
    return f"""
    WITH {scope} last_reply AS (
        SELECT conversation_sid, max(created_at) AS at FROM messages
        WHERE {in_scope} author_kind IN ('staff', 'store') GROUP BY conversation_sid),
    first_wait AS (
        SELECT m.conversation_sid, min(m.created_at) AS at FROM messages m
        LEFT JOIN last_reply r ON r.conversation_sid = m.conversation_sid
        WHERE {"m." + in_scope if scoped else ""} m.author_kind = 'customer'
            AND (r.at IS NULL OR m.created_at > r.at)
        GROUP BY m.conversation_sid)
    SELECT lead_id, conversation_sid, location_id, name, since, target FROM (
        SELECT d.lead_id, d.conversation_sid, d.location_id, d.name,
            CASE WHEN r.at IS NULL AND d.first_staff_reply_at IS NULL THEN d.date_submitted
                 ELSE w.at END AS since,
            coalesce(json_extract(l.data, '$.replyTargetMinutes'),
                     {DEFAULT_REPLY_TARGET_MINUTES}) AS target
        FROM leads d
        LEFT JOIN conversations c ON c.conversation_sid = d.conversation_sid
        LEFT JOIN last_reply r ON r.conversation_sid = d.conversation_sid
        LEFT JOIN first_wait w ON w.conversation_sid = d.conversation_sid
        LEFT JOIN locations l ON l.location_id = d.location_id
        WHERE {"d.lead_id IN scope AND" if scoped else ""} d.status != 'CLOSED'
            AND NOT d.opted_out AND NOT coalesce(c.opted_out, 0))
    WHERE since IS NOT NULL"""


WAITING_SQL = waiting_sql()


def lead_where(f: LeadFilter, me: Me | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if f.location_id is not None:
        clauses.append("d.location_id = ?")
        params.append(f.location_id)
    if f.unread_only:
        clauses.append("coalesce(c.unread_count, 0) > 0")
    if f.mine:
        clauses.append("d.assignee_id = ?")
        params.append(me.staff_id if me else "")
    if f.unassigned:
        clauses.append("d.assignee_id IS NULL")
    if f.pipeline_status is not None:
        clauses.append("d.pipeline_status = ?")
        params.append(f.pipeline_status)
    if not f.include_closed:
        clauses.append("d.status != 'CLOSED'")
    if f.needs_reply_at is not None:
        clauses.append(
            f"d.lead_id IN (SELECT lead_id FROM ({WAITING_SQL}) "
            "WHERE CAST(strftime('%s', since) AS INTEGER) + target * 60 "
            "<= CAST(strftime('%s', ?) AS INTEGER))")
        params.append(f.needs_reply_at.isoformat())
    if f.query and f.query.strip():
        match, like = fts_query(f.query)
        if match is not None:
            unconfirmed, unconfirmed_params = unconfirmed_match(match_words(match))
            clauses.append(
                "(d.id IN (SELECT rowid FROM leads_fts WHERE leads_fts MATCH ?) OR "
                "d.conversation_sid IN (SELECT m.conversation_sid FROM messages m WHERE m.id IN "
                f"(SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) OR m.id IN "
                f"({unconfirmed})))")
            params += [match, match, *unconfirmed_params]
        else:
            clauses.append("(d.name LIKE ? ESCAPE '\\' OR d.phone LIKE ? ESCAPE '\\' OR "
                           "d.conversation_sid IN (SELECT conversation_sid FROM messages "
                           "WHERE body LIKE ? ESCAPE '\\'))")
            params += [like, like, like]
    where = " AND ".join(clauses) if clauses else "1"
    return where, params


def list_leads_sql(
    f: LeadFilter, offset: int, limit: int, me: Me | None
) -> tuple[str, tuple[Any, ...]]:
    """Newest activity first (`leads.activity_at`, indexed: no sort of every lead)."""
    where, params = lead_where(f, me)
    return (f"SELECT {LEAD_COLUMNS} {_FROM} WHERE {where} "
            f"ORDER BY d.activity_at DESC, d.lead_id LIMIT ? OFFSET ?",
            (*params, int(limit), int(offset)))


def count_leads_sql(f: LeadFilter, me: Me | None) -> tuple[str, tuple[Any, ...]]:
    where, params = lead_where(f, me)
    return f"SELECT count(*) {_FROM} WHERE {where}", tuple(params)


def lead_row(r: Sequence[Any]) -> LeadRow:
    return LeadRow(
        lead_id=r[0], conversation_sid=r[1], location_id=r[2], name=r[3], phone=r[4],
        status=r[5], pipeline_status=r[6], last_message_preview=r[7],
        last_activity_at=parse_ts(r[8]) or datetime.now(UTC), unread=int(r[9]),
        assignee_id=r[10], assignee_name=r[11],
        awaiting_first_reply_since=(parse_ts(r[12]) if r[13] is None and r[5] != "CLOSED"
                                    else None),
        opted_out=bool(r[14]), possible_opt_out=bool(r[15]), source=r[16],
    )


def first_page(
    store_dir: Path, limit: int = FIRST_PAGE_ROWS
) -> tuple[list[LeadRow], int] | None:
    """The unfiltered inbox's first rows and its total, read straight from the store.

    For the desktop's first frame, before the engine (and its imports) is up. None
    when there is no store yet, it is busy or damaged, or it is not at this
    build's schema (the engine migrates it, then the inbox fills as usual).
    Blocking: call it off the Qt thread.
    """
    path = Path(store_dir) / DB_FILENAME
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=0.2)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("BEGIN")  # one snapshot: the revision, the rows and the total agree
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] != HEAD_REVISION:
            return None
        everything = LeadFilter()
        rows = conn.execute(*list_leads_sql(everything, 0, limit, None)).fetchall()
        total = conn.execute(*count_leads_sql(everything, None)).fetchone()[0]
        return [lead_row(r) for r in rows], int(total)
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()

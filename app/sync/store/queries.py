"""What the UI reads: locations, the inbox, a lead's detail, a thread."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.sync.api import (
    ActivityItem,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    NoteItem,
    ThreadMessage,
)
from app.sync.inbox import count_leads_sql, lead_row, list_leads_sql, parse_ts
from app.sync.store.access import read_one, read_rows
from app.sync.store.outbox_row import FAILED
from app.sync.store.rows import field, norm_ts


def list_locations(conn: sa.Connection, me: Me | None) -> list[LocationRow]:
    rows = read_rows(conn, """
        SELECT l.location_id, l.name, l.web2text_number, l.store_number, l.timezone,
            (SELECT coalesce(sum(c.unread_count), 0) FROM conversations c
                WHERE c.location_id = l.location_id),
            (SELECT count(*) FROM conversations c
                WHERE c.location_id = l.location_id AND c.unread_count > 0),
            (SELECT count(*) FROM leads d WHERE d.location_id = l.location_id
                AND d.status != 'CLOSED')
        FROM locations l ORDER BY l.name""")
    allowed = set(me.location_ids) if me and me.location_ids else None
    return [
        LocationRow(location_id=r[0], name=r[1], web2text_number=r[2], store_number=r[3],
                    timezone=r[4], unread=int(r[5]), unread_conversations=int(r[6]),
                    open_leads=int(r[7]))
        for r in rows if allowed is None or r[0] in allowed
    ]


def list_leads(
    conn: sa.Connection, f: LeadFilter, offset: int, limit: int, me: Me | None
) -> list[LeadRow]:
    return [lead_row(r) for r in read_rows(conn, *list_leads_sql(f, offset, limit, me))]


def count_leads(conn: sa.Connection, f: LeadFilter, me: Me | None) -> int:
    return int(read_rows(conn, *count_leads_sql(f, me))[0][0])


def _at(value: Any) -> datetime:
    return parse_ts(norm_ts(value)) or datetime.now(UTC)


def _notes(conn: sa.Connection, d: dict[str, Any], lead_id: str) -> tuple[list[NoteItem], bool]:
    """The lead's notes, queued ones last, and whether an edit of it is still queued."""
    notes = [
        NoteItem(note_id=str(field(n, "noteId", "note_id")),
                 author_id=field(n, "authorId", "author_id"),
                 author_name=str(field(n, "authorName", "author_name", "")),
                 body=str(field(n, "body", default="")), at=_at(field(n, "at")))
        for n in (field(d, "notes", default=[]) or [])
    ]
    pending_update = False
    for payload_text, state in read_rows(
            conn, "SELECT payload, state FROM outbox WHERE kind = 'update_lead' "
                  "AND lead_id = ? ORDER BY seq", (lead_id,)):
        if state == FAILED:
            continue
        pending_update = True
        payload = json.loads(payload_text)
        note = payload["patch"].get("note")
        if note:
            notes.append(NoteItem(note_id="pending", author_id=None,
                                  author_name=str(payload.get("noteAuthor") or "You"),
                                  body=note, at=parse_ts(payload.get("noteAt"))
                                  or datetime.now(UTC), pending=True))
    return notes, pending_update


def get_lead(conn: sa.Connection, lead_id: str) -> LeadDetail | None:
    row = read_one(conn, """SELECT d.data, d.pipeline_status, d.assignee_id, d.assignee_name,
            l.name, d.version, d.conversation_sid FROM leads d
        LEFT JOIN locations l ON l.location_id = d.location_id WHERE d.lead_id = ?""",
                   (lead_id,))
    if row is None:
        return None
    data, pipeline, assignee_id, assignee_name, location_name, version, conv = row
    d = json.loads(data)
    customer = field(d, "customer", default={}) or {}
    notes, pending_update = _notes(conn, d, lead_id)
    activity = tuple(
        ActivityItem(at=_at(field(a, "at")), kind=str(field(a, "kind", default="")),
                     text=str(field(a, "text", default="")))
        for a in (field(d, "activity", default=[]) or [])
    )
    others = read_rows(conn, "SELECT lead_id FROM leads WHERE conversation_sid = ? "
                             "AND lead_id != ?", (conv, lead_id)) if conv else []
    submitted = _at(field(d, "dateSubmitted", "date_submitted"))
    return LeadDetail(
        lead_id=lead_id, retailer_id=str(field(d, "retailerId", "retailer_id", "")),
        location_id=str(field(d, "locationId", "location_id", "")), location_name=location_name,
        conversation_sid=conv, status=str(field(d, "status", default="")),
        pipeline_status=pipeline, assignee_id=assignee_id, assignee_name=assignee_name,
        name=str(customer.get("name", "")), phone=str(customer.get("phone", "")),
        preferred_contact=str(field(customer, "preferredContact", "preferred_contact", "text")),
        customer_message=str(customer.get("message", "")),
        page_url=str(field(customer, "pageUrl", "page_url", "")),
        ip_address=field(customer, "ipAddress", "ip_address"),
        product=customer.get("product"), traffic=customer.get("traffic"),
        date_submitted=submitted,
        last_activity_at=parse_ts(norm_ts(field(d, "lastActivityAt", "last_activity_at")))
        or submitted,
        first_staff_reply_at=parse_ts(norm_ts(field(d, "firstStaffReplyAt",
                                                    "first_staff_reply_at"))),
        opted_out=bool(field(d, "optedOut", "opted_out")),
        possible_opt_out=bool(field(d, "possibleOptOut", "possible_opt_out")),
        close_reason=field(d, "closeReason", "close_reason"), version=int(version),
        notes=tuple(notes), activity=activity, pending_update=pending_update,
        other_lead_ids=tuple(r[0] for r in others),
    )


def lead_json(conn: sa.Connection, lead_id: str) -> dict[str, Any] | None:
    """The lead as the relay last sent it (without queued local edits)."""
    row = read_one(conn, "SELECT data FROM leads WHERE lead_id = ?", (lead_id,))
    return None if row is None else dict(json.loads(row[0]))


_THREAD_COLUMNS = ("local_id, message_sid, conversation_sid, author_kind, author, staff_name, "
                   "body, created_at, status, error_reason, error_message, outbox_id")


def _thread_message(r: Any) -> ThreadMessage:
    return ThreadMessage(
        local_id=r.local_id, message_sid=r.message_sid, conversation_sid=r.conversation_sid,
        author_kind=r.author_kind,
        author_name=r.staff_name or (r.author if r.author_kind != "customer" else "Customer"),
        body=r.body, created_at=parse_ts(r.created_at) or datetime.now(UTC), status=r.status,
        error_reason=r.error_reason, error_message=r.error_message, outbox_id=r.outbox_id,
    )


def thread(
    conn: sa.Connection, conversation_sid: str, limit: int, before: datetime | None
) -> list[ThreadMessage]:
    """The conversation's newest `limit` messages (before `before`), oldest first."""
    params: list[Any] = [conversation_sid]
    cond = ""
    if before is not None:
        cond = "AND created_at < ?"
        params.append(norm_ts(before))
    params.append(int(limit))
    rows = read_rows(conn, f"""SELECT {_THREAD_COLUMNS} FROM (
            SELECT id, {_THREAD_COLUMNS} FROM messages WHERE conversation_sid = ? {cond}
            ORDER BY created_at DESC, id DESC LIMIT ?) ORDER BY created_at, id""", params)
    return [_thread_message(r) for r in rows]

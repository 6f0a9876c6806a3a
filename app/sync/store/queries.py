"""What the UI reads: locations, the inbox, a lead's detail, a thread."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from app.core.wire import LeadView, WireModel
from app.sync.api import (
    ActivityItem,
    ChangesApplied,
    IntegrationItem,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    NoteItem,
    ThreadMessage,
    WaitingLead,
)
from app.sync.inbox import (
    DEFAULT_REPLY_TARGET_MINUTES,
    WAITING_SQL,
    count_leads_sql,
    lead_row,
    list_leads_sql,
    parse_ts,
    waiting_sql,
)
from app.sync.media import media_items
from app.sync.store.access import read_one, read_rows
from app.sync.store.outbox_row import FAILED
from app.sync.store.rows import stored_lead, utc_text

#: each count reads index pages only (migration 0007), never the wide table rows
LOCATIONS_SQL = """
    SELECT l.location_id, l.name, l.web2text_number, l.store_number, l.timezone,
        (SELECT coalesce(sum(c.unread_count), 0) FROM conversations c
            WHERE c.location_id = l.location_id),
        (SELECT count(*) FROM conversations c
            WHERE c.location_id = l.location_id AND c.unread_count > 0),
        (SELECT count(*) FROM leads d WHERE d.location_id = l.location_id
            AND d.status != 'CLOSED'),
        json_extract(l.data, '$.hours'),
        json_extract(l.data, '$.replyTargetMinutes')
    FROM locations l ORDER BY l.name"""


def list_locations(conn: sqlite3.Connection, me: Me | None) -> list[LocationRow]:
    rows = read_rows(conn, LOCATIONS_SQL)
    allowed = set(me.location_ids) if me and me.location_ids else None
    return [
        LocationRow(location_id=r[0], name=r[1], web2text_number=r[2], store_number=r[3],
                    timezone=r[4], unread=int(r[5]), unread_conversations=int(r[6]),
                    open_leads=int(r[7]), hours=r[8] or None,
                    reply_target_minutes=int(r[9] or DEFAULT_REPLY_TARGET_MINUTES))
        for r in rows if allowed is None or r[0] in allowed
    ]


def waiting_for_reply(
    conn: sqlite3.Connection, me: Me | None, among: ChangesApplied | None = None
) -> list[WaitingLead]:
    """Open leads whose customer waits for a reply (`inbox.waiting_sql`), longest first;
    `among`: only the leads those changes name, by lead, conversation or location."""
    allowed = set(me.location_ids) if me and me.location_ids else None
    out = []
    if among is None:
        rows = read_rows(conn, WAITING_SQL)
    else:
        threads = among.conversation_sids | among.thread_sids
        scope = [json.dumps(sorted(ids)) for ids in (among.lead_ids, threads, among.location_ids)]
        rows = read_rows(conn, waiting_sql(scoped=True), scope)
    for r in rows:
        since = parse_ts(r[4])
        if since is None or (allowed is not None and r[2] not in allowed):
            continue
        out.append(WaitingLead(r[0], r[1], r[2], r[3], since, int(r[5])))
    return sorted(out, key=lambda w: w.waiting_since)


def list_leads(
    conn: sqlite3.Connection, f: LeadFilter, offset: int, limit: int, me: Me | None
) -> list[LeadRow]:
    return [lead_row(r) for r in read_rows(conn, *list_leads_sql(f, offset, limit, me))]


def count_leads(conn: sqlite3.Connection, f: LeadFilter, me: Me | None) -> int:
    return int(read_rows(conn, *count_leads_sql(f, me))[0][0])


def _notes(conn: sqlite3.Connection, view: LeadView | None,
           lead_id: str) -> tuple[list[NoteItem], bool]:
    """The lead's notes, queued ones last, and whether an edit of it is still queued."""
    notes = [NoteItem(note_id=n.note_id, author_id=n.author_id, author_name=n.author_name,
                      body=n.body, at=n.at) for n in (view.notes if view else ())]
    pending_update = False
    for kind, payload_text, state in read_rows(
            conn, "SELECT kind, payload, state FROM outbox WHERE lead_id = ? "
                  "AND kind IN ('update_lead', 'close_lead', 'create_lead') ORDER BY seq",
            (lead_id,)):
        if state == FAILED:
            continue
        pending_update = True  # an edit, a close or the lead itself still on its way
        payload = json.loads(payload_text)
        note = payload["patch"].get("note") if kind == "update_lead" else None
        if note:
            notes.append(NoteItem(note_id="pending", author_id=None,
                                  author_name=str(payload.get("noteAuthor") or "You"),
                                  body=note, at=parse_ts(payload.get("noteAt"))
                                  or datetime.now(UTC), pending=True))
    return notes, pending_update


_LEAD_COLUMNS = """d.retailer_id, d.location_id, l.name AS location_name, d.conversation_sid,
    d.status, d.pipeline_status, d.assignee_id, d.assignee_name, d.name AS customer_name,
    d.phone, d.date_submitted,
    d.last_activity_at, d.first_staff_reply_at, d.opted_out, d.possible_opt_out, d.version,
    d.data, d.source"""


def get_lead(conn: sqlite3.Connection, lead_id: str) -> LeadDetail | None:
    """The lead as shown: its columns (queued edits laid over), and from the relay's
    copy what the customer submitted, the notes and the history."""
    r = read_one(conn, f"""SELECT {_LEAD_COLUMNS} FROM leads d
        LEFT JOIN locations l ON l.location_id = d.location_id WHERE d.lead_id = ?""",
                 (lead_id,))
    if r is None:
        return None
    view = stored_lead(r.data)
    customer = view.customer if view else None
    notes, pending_update = _notes(conn, view, lead_id)
    others = read_rows(conn, "SELECT lead_id FROM leads WHERE conversation_sid = ? "
                             "AND lead_id != ?", (r.conversation_sid, lead_id)
                       ) if r.conversation_sid else []
    submitted = parse_ts(r.date_submitted) or datetime.now(UTC)
    return LeadDetail(
        lead_id=lead_id, retailer_id=r.retailer_id, location_id=r.location_id,
        location_name=r.location_name, conversation_sid=r.conversation_sid, status=r.status,
        pipeline_status=r.pipeline_status, assignee_id=r.assignee_id,
        assignee_name=r.assignee_name, name=r.customer_name, phone=r.phone,
        preferred_contact=customer.preferred_contact.value if customer else "text",
        customer_message=customer.message if customer else "",
        page_url=customer.page_url if customer else "",
        ip_address=customer.ip_address if customer else None,
        product=_present(customer.product if customer else None),
        traffic=_present(customer.traffic if customer else None),
        date_submitted=submitted,
        last_activity_at=parse_ts(r.last_activity_at) or submitted,
        first_staff_reply_at=parse_ts(r.first_staff_reply_at),
        opted_out=bool(r.opted_out), possible_opt_out=bool(r.possible_opt_out),
        close_reason=view.close_reason if view else None, version=int(r.version),
        notes=tuple(notes), pending_update=pending_update,
        activity=tuple(ActivityItem(at=a.at, kind=a.kind, text=a.text)
                       for a in (view.activity if view else ())),
        other_lead_ids=tuple(o[0] for o in others),
        source=r.source,
        integrations=tuple(
            IntegrationItem(
                name=i.name,
                status=i.status,
                last_synced=i.last_synced,
                error=i.error,
                detail=i.detail,
                retrying=i.retrying,
                unconfirmed=i.unconfirmed,
            )
            for i in (view.integrations if view else ())
        ),
    )


def _present(info: WireModel | None) -> dict[str, str] | None:
    """A product or traffic block as shown: the values given."""
    return None if info is None else info.model_dump(exclude_none=True)


def relay_lead(conn: sqlite3.Connection, lead_id: str) -> LeadView | None:
    """The lead as the relay last sent it (without queued local edits)."""
    row = read_one(conn, "SELECT data FROM leads WHERE lead_id = ?", (lead_id,))
    return None if row is None else stored_lead(row[0])


_THREAD_COLUMNS = ("local_id, message_sid, conversation_sid, author_kind, author, staff_name, "
                   "body, created_at, status, error_reason, error_message, outbox_id, media")


def _thread_message(r: Any) -> ThreadMessage:
    return ThreadMessage(
        local_id=r.local_id, message_sid=r.message_sid, conversation_sid=r.conversation_sid,
        author_kind=r.author_kind,
        author_name=r.staff_name or (r.author if r.author_kind != "customer" else "Customer"),
        body=r.body, created_at=parse_ts(r.created_at) or datetime.now(UTC), status=r.status,
        error_reason=r.error_reason, error_message=r.error_message, outbox_id=r.outbox_id,
        media=media_items(r.media),
    )


def thread(
    conn: sqlite3.Connection, conversation_sid: str, limit: int, before: datetime | None
) -> list[ThreadMessage]:
    """The conversation's newest `limit` messages (before `before`), oldest first."""
    params: list[Any] = [conversation_sid]
    cond = ""
    if before is not None:
        cond = "AND created_at < ?"
        params.append(utc_text(before))
    params.append(int(limit))
    rows = read_rows(conn, f"""SELECT {_THREAD_COLUMNS} FROM (
            SELECT id, {_THREAD_COLUMNS} FROM messages WHERE conversation_sid = ? {cond}
            ORDER BY created_at DESC, id DESC LIMIT ?) ORDER BY created_at, id""", params)
    return [_thread_message(r) for r in rows]


def leads_of_conversation(conn: sqlite3.Connection, conversation_sid: str) -> list[str]:
    return [str(r[0]) for r in read_rows(
        conn, "SELECT lead_id FROM leads WHERE conversation_sid = ?", (conversation_sid,))]

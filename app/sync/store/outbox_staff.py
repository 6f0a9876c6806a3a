"""Queued staff actions beyond sends and lead edits: recording an opt-out, closing a
lead, starting a conversation. Each writes its local effect and its outbox row in
one durable transaction, like `app.sync.store.outbox`; `app.sync.delivery` sends
them; `app.sync.store.overlay` lays them over mirrored rows until the relay's own
change arrives, and takes them off again when one is refused or discarded.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

from ulid import ULID

from app.core.phones import PhoneError, parse_phone
from app.core.statuses import LeadStatus
from app.core.wire import CustomerInfo, LeadView, NoteView
from app.sync.api import EngineError, Me, NewConversation
from app.sync.store.access import write_tx
from app.sync.store.mirror_scheduled import cancel_locally
from app.sync.store.outbox_row import CANCEL_SCHEDULED, CLOSE_LEAD, CREATE_LEAD, OPT_OUT
from app.sync.store.rows import LEAD_UPSERT, lead_params, now_iso

_OUTBOX_INSERT = """INSERT INTO outbox (outbox_id, kind, lane, conversation_sid, lead_id,
        idempotency_key, payload, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)"""

#: the relay's limit for a close or opt-out reason (`app.core.wire_staff`)
MAX_REASON = 500


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise EngineError("reason_required", "say why in a few words")
    if len(text) > MAX_REASON:
        raise EngineError("reason_too_long", f"keep the reason under {MAX_REASON} characters")
    return text


def apply_opt_out(cur: sqlite3.Cursor, conversation_sid: str) -> None:
    """An opt-out's visible effect: texting is off for the conversation and its leads."""
    cur.execute("UPDATE conversations SET opted_out = 1 WHERE conversation_sid = ?",
                (conversation_sid,))
    cur.execute("UPDATE leads SET opted_out = 1, possible_opt_out = 0 "
                "WHERE conversation_sid = ?", (conversation_sid,))


def apply_close(cur: sqlite3.Cursor, lead_id: str) -> None:
    cur.execute("UPDATE leads SET status = 'CLOSED' WHERE lead_id = ?", (lead_id,))


def enqueue_opt_out(conn: sqlite3.Connection, conversation_sid: str, reason: str) -> str:
    """Record that the customer asked not to be texted (lane of the conversation, so
    no send queued after it goes out before it)."""
    text = _reason(reason)
    with write_tx(conn) as cur:
        found = cur.execute("SELECT 1 FROM conversations WHERE conversation_sid = ?",
                            (conversation_sid,)).fetchone()
        if found is None:
            raise EngineError("conversation_not_found", "no such conversation here")
        outbox_id = str(ULID())
        cur.execute(_OUTBOX_INSERT, (outbox_id, OPT_OUT, "c:" + conversation_sid,
                                     conversation_sid, None, str(ULID()),
                                     json.dumps({"reason": text}), now_iso()))
        apply_opt_out(cur, conversation_sid)
    return outbox_id


def enqueue_close_lead(conn: sqlite3.Connection, lead_id: str, reason: str) -> str:
    """Close the lead with a reason, based on the version shown (lane of the lead)."""
    text = _reason(reason)
    with write_tx(conn) as cur:
        row = cur.execute("SELECT version FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
        if row is None:
            raise EngineError("lead_not_found", f"no lead {lead_id} in the local store")
        outbox_id = str(ULID())
        payload = {"reason": text, "baseVersion": int(row[0])}
        cur.execute(_OUTBOX_INSERT, (outbox_id, CLOSE_LEAD, "l:" + lead_id, None, lead_id,
                                     str(ULID()), json.dumps(payload), now_iso()))
        apply_close(cur, lead_id)
    return outbox_id


def _pending_lead(req: NewConversation, lead_id: str, phone: str, me: Me | None) -> LeadView:
    """The lead as shown until the relay's arrives (version 0: any relay version wins)."""
    now = datetime.now(UTC)
    name = me.name if me else "You"
    notes = [NoteView(note_id="pending", author_id=me.staff_id if me else "",
                      author_name=name, body=req.note, at=now)] if req.note else []
    return LeadView(
        lead_id=lead_id, retailer_id=me.retailer_id if me else "", location_id=req.location_id,
        assignee_id=me.staff_id if me else None, assignee_name=name if me else None,
        customer=CustomerInfo(name=req.name.strip(), phone=phone, message="", page_url=""),
        notes=notes, status=LeadStatus.ACTIVE,
        date_submitted=now, last_activity_at=now, source="staff", version=0,
    )


def enqueue_create_lead(conn: sqlite3.Connection, req: NewConversation, me: Me | None) -> str:
    """Start a conversation: the pending lead (shown at once) and its `POST /v1/leads`,
    whose body names the lead so the relay's lead replaces this row. Returns its id."""
    if not req.name.strip():
        raise EngineError("name_required", "give the customer's name")
    try:
        phone = parse_phone(req.phone)
    except PhoneError as exc:
        raise EngineError("invalid_phone", str(exc)) from None
    lead_id = str(uuid.uuid4())
    body: dict[str, Any] = {"locationId": req.location_id, "name": req.name.strip(),
                            "phone": phone, "leadId": lead_id}
    if req.note and req.note.strip():
        body["note"] = req.note.strip()
    view = _pending_lead(req, lead_id, phone, me)
    with write_tx(conn) as cur:
        cur.execute(_OUTBOX_INSERT, (str(ULID()), CREATE_LEAD, "n:" + lead_id, None, lead_id,
                                     str(ULID()), json.dumps({"body": body}), now_iso()))
        cur.execute(LEAD_UPSERT, lead_params(view, 0, view.to_dict()))
    return lead_id


def drop_pending_lead(cur: sqlite3.Cursor, lead_id: str) -> None:
    """A discarded new conversation: its pending row goes (a relay copy stays)."""
    cur.execute("DELETE FROM leads WHERE lead_id = ? AND version = 0", (lead_id,))


def enqueue_cancel_scheduled(conn: sqlite3.Connection, message_sid: str) -> str | None:
    """Cancel a text for later: it leaves the thread at once; `DELETE /v1/scheduled`
    follows (lane of its conversation). Returns the conversation."""
    with write_tx(conn) as cur:
        conversation_sid = cancel_locally(cur, message_sid)
        if conversation_sid is None:
            raise EngineError("scheduled_not_found", "no such text for later here")
        cur.execute(_OUTBOX_INSERT, (str(ULID()), CANCEL_SCHEDULED, "c:" + conversation_sid,
                                     conversation_sid, None, str(ULID()),
                                     json.dumps({"messageSid": message_sid}), now_iso()))
    return conversation_sid

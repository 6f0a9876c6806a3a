"""The mirrored tables' SQL and the values stored in them.

Timestamps are stored as UTC ISO text (they sort as strings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from app.core.wire import ConversationView, LeadView, LocationView, MessageView

LOCATION_UPSERT = """INSERT INTO locations (location_id, retailer_id, name, web2text_number,
        store_number, timezone, version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (location_id) DO UPDATE SET
        retailer_id = excluded.retailer_id, name = excluded.name,
        web2text_number = excluded.web2text_number,
        store_number = excluded.store_number, timezone = excluded.timezone,
        version = excluded.version, data = excluded.data
    WHERE excluded.version > locations.version"""

LEAD_UPSERT = """INSERT INTO leads (lead_id, retailer_id, location_id, conversation_sid, status,
        pipeline_status, assignee_id, assignee_name, name, phone, date_submitted,
        last_activity_at, first_staff_reply_at, possible_opt_out, opted_out, version, data,
        source)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (lead_id) DO UPDATE SET
        retailer_id = excluded.retailer_id, location_id = excluded.location_id,
        conversation_sid = excluded.conversation_sid, status = excluded.status,
        pipeline_status = excluded.pipeline_status, assignee_id = excluded.assignee_id,
        assignee_name = excluded.assignee_name, name = excluded.name, phone = excluded.phone,
        date_submitted = excluded.date_submitted, last_activity_at = excluded.last_activity_at,
        first_staff_reply_at = excluded.first_staff_reply_at,
        possible_opt_out = excluded.possible_opt_out, opted_out = excluded.opted_out,
        version = excluded.version, data = excluded.data, source = excluded.source
    WHERE excluded.version > leads.version"""

CONVERSATION_UPSERT = """INSERT INTO conversations (conversation_sid, location_id,
        customer_phone, web2text_number, state, unread_count, last_message_at,
        last_message_preview, opted_out, version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (conversation_sid) DO UPDATE SET
        location_id = excluded.location_id, customer_phone = excluded.customer_phone,
        web2text_number = excluded.web2text_number, state = excluded.state,
        unread_count = excluded.unread_count, last_message_at = excluded.last_message_at,
        last_message_preview = excluded.last_message_preview, opted_out = excluded.opted_out,
        version = excluded.version, data = excluded.data
    WHERE excluded.version > conversations.version"""

MESSAGE_INSERT = """INSERT INTO messages (local_id, message_sid, idempotency_key,
        conversation_sid, location_id, idx, author, author_kind, staff_id, staff_name, body,
        status, error_code, error_reason, created_at, version, media)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""

MESSAGE_UPDATE = """UPDATE messages SET message_sid = ?, location_id = ?, idx = ?, author = ?,
        author_kind = ?, staff_id = ?, staff_name = ?, body = ?, status = ?,
        error_code = ?, error_reason = ?, created_at = ?, version = ?, media = ?
    WHERE id = ?"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def utc_text(value: datetime) -> str:
    """A timestamp as stored: UTC ISO text."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _opt_text(value: datetime | None) -> str | None:
    # a wire timestamp is UTC already (`app.core.wire.UtcDatetime`)
    return None if value is None else value.isoformat()


def location_params(view: LocationView, version: int, data: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        view.location_id, view.retailer_id, view.name, view.web2text_number,
        view.store_number, view.timezone, version, json.dumps(data),
    )


def lead_params(view: LeadView, version: int, data: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        view.lead_id, view.retailer_id, view.location_id, view.conversation_sid,
        view.status.value, view.pipeline_status.value, view.assignee_id, view.assignee_name,
        view.customer.name, view.customer.phone, view.date_submitted.isoformat(),
        view.last_activity_at.isoformat(), _opt_text(view.first_staff_reply_at),
        1 if view.possible_opt_out else 0, 1 if view.opted_out else 0,
        version, json.dumps(data), view.source,
    )


def conversation_params(
    view: ConversationView, version: int, data: Mapping[str, Any]
) -> tuple[Any, ...]:
    return (
        view.conversation_sid, view.location_id, view.customer_phone, view.web2text_number,
        view.state.value, view.unread_count, _opt_text(view.last_message_at),
        view.last_message_preview, 1 if view.opted_out else 0, version, json.dumps(data),
    )


class MessageRow(NamedTuple):
    """A mirrored message's values, taken from its view as soon as it is parsed (a
    batch holds plain tuples, not models, until it is written)."""

    message_sid: str
    conversation_sid: str
    idempotency_key: str | None
    status: str
    version: int
    location_id: str
    idx: int | None  # the message index in its conversation
    author: str
    author_kind: str
    staff_id: str | None
    staff_name: str | None
    body: str
    error_code: int | None
    error_reason: str | None
    created_at: str
    media: str  # JSON: [{"sid", "contentType", "filename", "size"}]

    @classmethod
    def of(cls, view: MessageView, version: int) -> MessageRow:
        media = json.dumps([m.to_dict() for m in view.media]) if view.media else "[]"
        return cls(view.message_sid, view.conversation_sid, view.idempotency_key,
                   view.status.value, version, view.location_id, view.index, view.author,
                   view.author_kind.value, view.staff_id, view.staff_name, view.body,
                   view.error_code, view.error_reason, view.created_at.isoformat(), media)

    def insert_params(self, local_id: str) -> tuple[Any, ...]:
        """For `MESSAGE_INSERT`; the idempotency key is kept on our own rows only."""
        return (local_id, self.message_sid, None, self.conversation_sid, self.location_id,
                self.idx, self.author, self.author_kind, self.staff_id, self.staff_name,
                self.body, self.status, self.error_code, self.error_reason, self.created_at,
                self.version, self.media)

    def update_params(self, rowid: int) -> tuple[Any, ...]:
        """For `MESSAGE_UPDATE` of the stored row `rowid`."""
        return (self.message_sid, self.location_id, self.idx, self.author, self.author_kind,
                self.staff_id, self.staff_name, self.body, self.status, self.error_code,
                self.error_reason, self.created_at, self.version, self.media, rowid)


def stored_lead(data: str) -> LeadView | None:
    """A lead's stored JSON read back as its wire view.

    None when it does not fit: rows mirrored before the feed was parsed into
    the wire models may hold a partial copy.
    """
    try:
        return LeadView.model_validate_json(data)
    except ValidationError:
        return None

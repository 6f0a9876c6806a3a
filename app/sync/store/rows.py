"""The mirrored tables' SQL and the values stored in them.

Timestamps are stored as UTC ISO text (they sort as strings).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

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
        last_activity_at, first_staff_reply_at, possible_opt_out, opted_out, version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (lead_id) DO UPDATE SET
        retailer_id = excluded.retailer_id, location_id = excluded.location_id,
        conversation_sid = excluded.conversation_sid, status = excluded.status,
        pipeline_status = excluded.pipeline_status, assignee_id = excluded.assignee_id,
        assignee_name = excluded.assignee_name, name = excluded.name, phone = excluded.phone,
        date_submitted = excluded.date_submitted, last_activity_at = excluded.last_activity_at,
        first_staff_reply_at = excluded.first_staff_reply_at,
        possible_opt_out = excluded.possible_opt_out, opted_out = excluded.opted_out,
        version = excluded.version, data = excluded.data
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
        status, error_code, error_reason, created_at, version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""

MESSAGE_UPDATE = """UPDATE messages SET message_sid = ?, location_id = ?, idx = ?, author = ?,
        author_kind = ?, staff_id = ?, staff_name = ?, body = ?, status = ?,
        error_code = ?, error_reason = ?, created_at = ?, version = ?
    WHERE id = ?"""


class MalformedChange(ValueError):
    pass


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


_UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?(?:Z|\+00:00)")


def norm_ts(value: Any) -> str | None:
    """A timestamp as stored: UTC ISO text."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _UTC_Z.fullmatch(value):
        # already UTC in the canonical shape (the relay's own format): no parsing
        return value if value[-1] != "Z" else value[:-1] + "+00:00"
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def field(d: dict[str, Any], camel: str, snake: str | None = None, default: Any = None) -> Any:
    """A field of a change's data by its JSON (camelCase) name, or its snake_case name."""
    if camel in d:
        return d[camel]
    if snake is not None and snake in d:
        return d[snake]
    return default


def location_params(d: dict[str, Any], version: int) -> tuple[Any, ...]:
    return (
        str(d["locationId"] if "locationId" in d else d["location_id"]),
        str(field(d, "retailerId", "retailer_id", "")),
        str(field(d, "name", default="")),
        str(field(d, "web2textNumber", "web2text_number", "")),
        field(d, "storeNumber", "store_number"),
        field(d, "timezone"),
        version,
        json.dumps(d),
    )


def lead_params(d: dict[str, Any], version: int) -> tuple[Any, ...]:
    customer = field(d, "customer", default={}) or {}
    submitted = norm_ts(field(d, "dateSubmitted", "date_submitted"))
    if submitted is None:
        raise MalformedChange("lead without dateSubmitted")
    return (
        str(d["leadId"] if "leadId" in d else d["lead_id"]),
        str(field(d, "retailerId", "retailer_id", "")),
        str(field(d, "locationId", "location_id")),
        field(d, "conversationSid", "conversation_sid"),
        str(field(d, "status", default="ACTIVE")),
        str(field(d, "pipelineStatus", "pipeline_status", "new")),
        field(d, "assigneeId", "assignee_id"),
        field(d, "assigneeName", "assignee_name"),
        str(customer.get("name", "")),
        str(customer.get("phone", "")),
        submitted,
        norm_ts(field(d, "lastActivityAt", "last_activity_at")) or submitted,
        norm_ts(field(d, "firstStaffReplyAt", "first_staff_reply_at")),
        1 if field(d, "possibleOptOut", "possible_opt_out") else 0,
        1 if field(d, "optedOut", "opted_out") else 0,
        version,
        json.dumps(d),
    )


def conversation_params(d: dict[str, Any], version: int) -> tuple[Any, ...]:
    return (
        str(d["conversationSid"] if "conversationSid" in d else d["conversation_sid"]),
        str(field(d, "locationId", "location_id")),
        str(field(d, "customerPhone", "customer_phone", "")),
        str(field(d, "web2textNumber", "web2text_number", "")),
        str(field(d, "state", default="active")),
        int(field(d, "unreadCount", "unread_count", 0) or 0),
        norm_ts(field(d, "lastMessageAt", "last_message_at")),
        field(d, "lastMessagePreview", "last_message_preview"),
        1 if field(d, "optedOut", "opted_out") else 0,
        version,
        json.dumps(d),
    )


def message_values(d: dict[str, Any]) -> tuple[Any, ...]:
    """location_id … body of a message row (insert and update alike)."""
    return (
        field(d, "locationId", "location_id"), field(d, "index"),
        str(field(d, "author", default="")), str(field(d, "authorKind", "author_kind")),
        field(d, "staffId", "staff_id"), field(d, "staffName", "staff_name"),
        str(field(d, "body", default="")),
    )


def message_insert_params(
    d: dict[str, Any], sid: str, local_id: str, key: Any, status: str, version: int
) -> tuple[Any, ...]:
    created = norm_ts(field(d, "createdAt", "created_at"))
    if created is None:
        raise MalformedChange("message without createdAt")
    return (
        local_id, sid, key or None,
        str(d["conversationSid"] if "conversationSid" in d else d["conversation_sid"]),
        *message_values(d), status,
        field(d, "errorCode", "error_code"), field(d, "errorReason", "error_reason"),
        created, version,
    )


def message_update_params(
    d: dict[str, Any], sid: str, status: str, version: int, rowid: int
) -> tuple[Any, ...]:
    return (
        sid, *message_values(d), status,
        field(d, "errorCode", "error_code"), field(d, "errorReason", "error_reason"),
        norm_ts(field(d, "createdAt", "created_at")) or now_iso(), version, rowid,
    )

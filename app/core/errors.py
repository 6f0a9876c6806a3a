"""Stable error codes and the error body shape used across the product.

Every error a client sees is ``{"code": <HTTP status>, "message": "...",
"reason": "<stable_snake_case>"}`` (DESIGN.md, "Errors"), optionally with extra
keys such as ``current`` (412) or ``nextAllowedAt`` (quiet hours). Clients branch
on ``reason``, never on ``message``, so reasons are a closed, stable set.

Public API:

- ``ErrorReason``: StrEnum of the stable reason codes.
- ``error_body(code, message, reason, **extra) -> dict``: the JSON error body.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorReason(StrEnum):
    """Stable, snake_case reasons. Values never change once shipped."""

    INVALID_REQUEST = "invalid_request"
    INVALID_PHONE = "invalid_phone"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_RETAILER = "unknown_retailer"
    RETAILER_CHURNED = "retailer_churned"
    RETAILER_OPTED_OUT = "retailer_opted_out"
    UNKNOWN_LOCATION = "unknown_location"
    LOCATION_NOT_IN_RETAILER = "location_not_in_retailer"
    LOCATION_WITHOUT_NUMBER = "location_without_number"
    LANDLINE = "landline"  # no longer answered: a landline is a refused LINE_TYPE
    LINE_TYPE = "line_type"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    TOO_MANY_LEADS_FOR_PHONE = "too_many_leads_for_phone"
    TOO_MANY_OPEN_LEADS = "too_many_open_leads"
    TOO_MANY_STREAMS = "too_many_streams"
    TOO_MANY_NOTES = "too_many_notes"
    NOTES_TOO_LARGE = "notes_too_large"
    LEAD_TOO_LARGE = "lead_too_large"
    SAME_AS_STORE_NUMBER = "same_as_store_number"
    RECIPIENT_OPTED_OUT = "recipient_opted_out"
    LEAD_EXISTS = "lead_exists"
    LEAD_NOT_FOUND = "lead_not_found"
    INVALID_STATUS = "invalid_status"
    LEAD_BUSY = "lead_busy"
    VERSION_CONFLICT = "version_conflict"
    QUIET_HOURS = "quiet_hours"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    INVALID_SIGNATURE = "invalid_signature"
    CONVERSATION_CLOSED = "conversation_closed"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INVALID_CURSOR = "invalid_cursor"
    CURSOR_EXPIRED = "cursor_expired"
    INTERNAL_ERROR = "internal_error"


def error_body(code: int, message: str, reason: str, **extra: Any) -> dict[str, Any]:
    """Build the error body ``{"code", "message", "reason", **extra}``.

    ``reason`` may be an ``ErrorReason`` or any snake_case string (other modules
    have their own finer reasons, e.g. ``PhoneError.reason``); it is stored as a
    plain ``str`` so the body serialises identically either way. ``extra`` cannot
    override the three fixed keys (Python rejects the duplicate keyword).
    """
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        raise ValueError(f"code must be an HTTP status (100-599), got {code!r}")
    body: dict[str, Any] = {"code": code, "message": message, "reason": str(reason)}
    body.update(extra)
    return body

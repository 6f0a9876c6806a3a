"""What every staff-API route shares: the staff key's dependency, the entities it may
reach (403 `forbidden` for another location's or retailer's, 404 for an unknown id)
and the small parsers of bodies and headers.

The routes themselves live in one module per job: `staff_api` (feed, stream, sends,
lead edits, read), `staff_leads` (colleagues, new conversations, closing),
`staff_optout`, `scheduled_api` (texts for later).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.core.safe_text import unsafe_character
from app.core.wire import MAX_MESSAGE_BODY, ErrorBody, SendMessageRequest
from app.core.wire_staff import MAX_REASON_LENGTH
from app.relay import conversation_store, directory, lead_store
from app.relay.auth import Principal, require_staff
from app.relay.context import RelayContext, context_of
from app.relay.errors import ApiError

Staff = Annotated[Principal, Depends(require_staff())]

ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": desc}
    for code, desc in (
        (400, "invalid input"),
        (401, "unknown key"),
        (403, "not a staff key, or an entity of another location/retailer"),
        (404, "unknown id"),
    )
}


def ctx_of(request: Request) -> RelayContext:
    """The relay's services."""
    return context_of(request)


def location_retailer(request: Request, location_id: str) -> str | None:
    """The retailer owning a location (cached: a location never changes retailer)."""
    ctx = ctx_of(request)
    cache = ctx.caches.location_retailers
    if location_id not in cache:
        loc = directory.get_location(ctx.tables, location_id)
        if loc is None:
            return None  # not cached: it may be added later
        cache[location_id] = loc.retailer_id
    return cache[location_id]


def staff_locations(request: Request, staff: Principal) -> list[str]:
    """The key's locations that belong to the key's retailer (sorted, unique)."""
    return sorted(
        loc
        for loc in set(staff.locations)
        if not staff.retailer_id or location_retailer(request, loc) == staff.retailer_id
    )


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", "This staff key has no access to that location")


def load_conversation(request: Request, staff: Principal, sid: str) -> dict[str, Any]:
    """The conversation item; 404 unknown, 403 not one of the key's locations."""
    if not ID_RE.match(sid):
        raise ApiError(404, "conversation_not_found", "No conversation with this sid")
    conv = conversation_store.get_conversation(ctx_of(request).tables, sid)
    if conv is None:
        raise ApiError(404, "conversation_not_found", "No conversation with this sid")
    if not set(conversation_store.conversation_locations(conv)) & set(
        staff_locations(request, staff)
    ):
        raise forbidden()
    return conv


def load_lead(request: Request, staff: Principal, lead_id: str) -> dict[str, Any]:
    if not ID_RE.match(lead_id):
        raise ApiError(404, "lead_not_found", "No lead with this LeadId")
    lead = lead_store.get_lead(ctx_of(request).tables, lead_id)
    if lead is None:
        raise ApiError(404, "lead_not_found", "No lead with this LeadId")
    check_lead_access(request, staff, lead)
    return lead


def check_lead_access(request: Request, staff: Principal, lead: dict[str, Any]) -> None:
    if staff.retailer_id and str(lead.get("UniversalRetailerId", "")) != staff.retailer_id:
        raise forbidden()
    if lead_store.lead_location(lead) not in staff_locations(request, staff):
        raise forbidden()


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise ApiError(400, "invalid_json", "The body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object")
    return data


_IF_MATCH_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def if_match_version(value: str | None) -> int:
    if value is None or not value.strip():
        raise ApiError(
            428,
            "precondition_required",
            'Send If-Match: "<version>" with the lead version you edited',
        )
    match = _IF_MATCH_RE.match(value)
    if match is None:
        raise ApiError(400, "invalid_if_match", 'If-Match must be "<version>", e.g. "3"')
    return int(match.group(1))


def message_body(data: dict[str, Any], *, allow_empty: bool = False) -> str:
    body = data.get("body", "" if allow_empty else None)
    if not isinstance(body, str):
        raise ApiError(400, "invalid_request", "body: a string is required")
    if not body.strip() and allow_empty:
        return ""
    if not body.strip():
        raise ApiError(400, "empty_message", "The message is empty")
    bad = unsafe_character(body, multiline=True)
    if bad is not None:
        raise ApiError(400, "invalid_field", f"body is INVALID - contains a {bad}")
    if len(body) > MAX_MESSAGE_BODY:
        raise ApiError(
            422,
            "message_too_long",
            f"The message has {len(body)} characters; at most {MAX_MESSAGE_BODY} are allowed",
            maxLength=MAX_MESSAGE_BODY,
        )
    try:
        return SendMessageRequest(body=body).body
    except ValidationError:
        raise ApiError(400, "invalid_request", "body is not a valid message") from None


def parse_reason(data: dict[str, Any]) -> str:
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError(400, "invalid_request", "reason: a short text saying why is required")
    if len(reason) > MAX_REASON_LENGTH:
        raise ApiError(
            422, "reason_too_long", f"reason is longer than {MAX_REASON_LENGTH} characters"
        )
    bad = unsafe_character(reason, multiline=True)
    if bad is not None:
        raise ApiError(400, "invalid_field", f"reason is INVALID - contains a {bad}")
    return reason.strip()


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def staff_name(staff: Principal) -> str:
    return staff.name or staff.staff_id or ""

from __future__ import annotations

import json
import re

import pytest

from app.core.errors import ErrorReason, error_body

REQUIRED = {
    "invalid_request",
    "invalid_phone",
    "invalid_field",
    "unknown_retailer",
    "retailer_churned",
    "retailer_opted_out",
    "unknown_location",
    "location_not_in_retailer",
    "location_without_number",
    "landline",
    "same_as_store_number",
    "recipient_opted_out",
    "lead_exists",
    "lead_not_found",
    "invalid_status",
    "version_conflict",
    "quiet_hours",
    "unauthorized",
    "forbidden",
    "not_found",
    "payload_too_large",
    "rate_limited",
    "upstream_unavailable",
    "invalid_signature",
    "conversation_closed",
    "idempotency_conflict",
    "internal_error",
}


def test_every_required_reason_exists_and_is_snake_case() -> None:
    values = {r.value for r in ErrorReason}
    assert values >= REQUIRED
    for value in values:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", value)
    # Member names mirror values so code reads the same as the wire.
    for reason in ErrorReason:
        assert reason.name.lower() == reason.value


def test_error_body_shape_and_json() -> None:
    body = error_body(400, "Phone is INVALID - too short", ErrorReason.INVALID_PHONE)
    assert body == {
        "code": 400,
        "message": "Phone is INVALID - too short",
        "reason": "invalid_phone",
    }
    assert type(body["reason"]) is str
    assert json.loads(json.dumps(body)) == body


def test_error_body_extras_and_plain_string_reason() -> None:
    body = error_body(429, "Quiet hours", "quiet_hours", nextAllowedAt="2026-01-01T13:00:00Z")
    assert body["nextAllowedAt"] == "2026-01-01T13:00:00Z"
    assert body["reason"] == ErrorReason.QUIET_HOURS


@pytest.mark.parametrize("extra", [{"code": 1}, {"reason": "x"}, {"message": "m"}])
def test_error_body_refuses_overriding_fixed_keys(extra: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="multiple values"):
        error_body(400, "m", "invalid_request", **extra)


@pytest.mark.parametrize("code", [99, 600, True, 4.0])
def test_error_body_refuses_non_http_codes(code: object) -> None:
    with pytest.raises(ValueError, match="HTTP status"):
        error_body(code, "m", "invalid_request")  # type: ignore[arg-type]

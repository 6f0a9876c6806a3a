"""Checks and conversions of request input that several resources share."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.sandbox.twilio_sim.errors import bad_param

Form = Any  # starlette FormData or any mapping with get()/getlist()

_duration = TypeAdapter(timedelta)


def parse_duration(name: str, value: str) -> timedelta:
    """ISO-8601 duration such as PT1M or P7D (Twilio's timer format)."""
    if not value.startswith("P"):
        raise bad_param(f"{name} must be an ISO 8601 duration such as PT1M or P7D")
    try:
        result = _duration.validate_python(value)
    except ValidationError:
        raise bad_param(f"{name} must be an ISO 8601 duration such as PT1M or P7D") from None
    if result <= timedelta(0):
        raise bad_param(f"{name} must be a positive duration")
    return result


def json_attributes(name: str, value: str | None, default: str = "{}") -> str:
    """`Attributes` as given, once it is known to be a JSON string."""
    if value is None:
        return default
    try:
        json.loads(value)
    except ValueError:
        raise bad_param(f"{name} must be a valid JSON string") from None
    return value


def webhooks_enabled(webhook_header: str | None) -> bool:
    """The `X-Twilio-Webhook-Enabled` header: REST changes fire webhooks only with `true`."""
    return (webhook_header or "").strip().lower() == "true"


def getlist(form: Form, name: str) -> list[str]:
    """Every non-empty value of a repeated form field."""
    if hasattr(form, "getlist"):
        return [v for v in form.getlist(name) if isinstance(v, str) and v]
    value = form.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def is_e164(value: str) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("+")
        and value[1:].isdigit()
        and 8 <= len(value) <= 16
    )

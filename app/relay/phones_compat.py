"""Phone parsing for the relay (through `app.core.phones`)."""

from __future__ import annotations

from app.core.phones import PhoneError, parse_phone


def normalize_phone(text: str, region: str = "US") -> str:
    """E.164 of `text`; ValueError with a short reason when it is not a valid number."""
    try:
        return parse_phone(text, region)
    except PhoneError as exc:
        raise ValueError(str(exc.reason)) from None

"""Phone parsing through `app.core.phones` (with a `phonenumbers` fallback while
the core module is being written)."""

from __future__ import annotations

import phonenumbers


def normalize_phone(text: str, region: str = "US") -> str:
    """E.164 of `text`; ValueError with a short reason when it is not a valid number."""
    try:
        from app.core.phones import PhoneError, parse_phone
    except ImportError:
        parse_phone = None  # type: ignore[assignment]
    if parse_phone is not None:
        try:
            return str(parse_phone(text, region))
        except PhoneError as exc:  # type: ignore[misc]
            raise ValueError(str(getattr(exc, "reason", exc))) from None
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not_a_number") from exc
    if not phonenumbers.is_valid_number(num):
        raise ValueError("invalid_number")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)

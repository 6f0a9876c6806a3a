"""Lookup v2: number validation by libphonenumber and line types set through `/_sim/lookup`."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import phonenumbers

from app.sandbox.twilio_sim.errors import TwilioApiError
from app.sandbox.twilio_sim.state.inputs import is_e164

LINE_TYPES = (
    "mobile",
    "landline",
    "fixedVoip",
    "nonFixedVoip",
    "personal",
    "tollFree",
    "premium",
    "satellite",
    "sharedCost",
    "uan",
    "voicemail",
    "pager",
    "unknown",
)
# Not Twilio line types: `invalid` makes Lookup report the number as invalid,
# `unavailable` makes Lookup answer 503 for it (down), `undetermined` gives a valid
# number no line type (`type` null, `error_code` 60600: Lookup cannot tell).
INVALID = "invalid"
UNAVAILABLE = "unavailable"
UNDETERMINED = "undetermined"
SPECIALS = (INVALID, UNAVAILABLE, UNDETERMINED)


class LineTypeError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Lookups:
    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.line_types: dict[str, str] = {}

    def reset(self) -> None:
        with self.lock:
            self.line_types.clear()

    def set_line_types(self, mapping: dict[str, str]) -> None:
        """Line types Lookup reports from now on (or one of `SPECIALS`)."""
        for number, line_type in mapping.items():
            if not is_e164(number):
                raise LineTypeError("invalid_phone", "Lookup keys must be E.164 numbers")
            if line_type not in (*LINE_TYPES, *SPECIALS):
                raise LineTypeError(
                    "invalid_line_type",
                    f"Line type must be one of {', '.join((*LINE_TYPES, *SPECIALS))}",
                )
        with self.lock:
            self.line_types.update(mapping)

    def lookup(self, raw: str, fields: Iterable[str], country: str | None) -> dict[str, Any]:
        """The Lookup v2 phone number resource, without its `url`."""
        wanted = {f.strip() for f in fields if f.strip()}
        try:
            parsed = phonenumbers.parse(raw, (country or "US").upper())
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            parsed, e164, valid = None, raw, False
        with self.lock:
            line_type = self.line_types.get(e164, "mobile")
        if line_type == UNAVAILABLE:
            raise TwilioApiError(503, 20503, "Service Unavailable")
        if line_type == INVALID:
            valid = False
        body = _number_body(parsed, e164, valid)
        if "line_type_intelligence" in wanted and valid:
            known = line_type != UNDETERMINED
            body["line_type_intelligence"] = {
                "carrier_name": "Simulated Carrier" if known else None,
                "error_code": None if known else 60600,
                "mobile_country_code": "310" if known else None,
                "mobile_network_code": "456" if known else None,
                "type": line_type if known else None,
            }
        return body


def _number_body(parsed: phonenumbers.PhoneNumber | None, e164: str, valid: bool) -> dict[str, Any]:
    """Every field of the resource; the data packages nobody asked for stay null."""
    national = (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        if parsed
        else None
    )
    return {
        "calling_country_code": str(parsed.country_code) if parsed else None,
        "country_code": phonenumbers.region_code_for_number(parsed) if parsed else None,
        "phone_number": e164,
        "national_format": national,
        "valid": valid,
        "validation_errors": []
        if valid
        else ["INVALID_BUT_POSSIBLE" if parsed else "NOT_A_NUMBER"],
        "caller_name": None,
        "sim_swap": None,
        "call_forwarding": None,
        "line_status": None,
        "line_type_intelligence": None,
        "identity_match": None,
        "reassigned_number": None,
        "sms_pumping_risk": None,
        "phone_number_quality_score": None,
        "pre_fill": None,
        "url": None,
    }

"""Phone numbers: parse any typed form to E.164, format for display, mask for logs.

Public API:

- ``parse_phone(text, region="US") -> str``: E.164 (``+13125550134``) from any
  typed form ("(312) 555-0134", "312.555.0134", "1-312-555-0134",
  "+44 20 7946 0958", "tel:+1..."). Raises ``PhoneError`` (a ``ValueError``)
  whose ``reason`` is one of ``PHONE_ERROR_REASONS``.
- ``try_parse_phone(text, region="US") -> str | None``: the same, ``None`` on failure.
- ``format_phone(e164) -> str``: display form; national for US/CA numbers
  ("(312) 555-0134"), international otherwise ("+44 20 7946 0958").
- ``mask_phone(value) -> str``: for logs, ``+1 312 ***-**34``; never raises.
- ``area_code(e164) -> str | None``: the NANP area code (NPA), ``None`` elsewhere.
- ``is_nanp(e164) -> bool``: country code 1 (US, CA and the Caribbean NANP).
- ``region_of(e164) -> str | None``: the number's ISO region ("US", "CA", "JM").
- ``format_as_typed(text) -> str``: the number as it is being typed ("(312) 555-01").
- ``phone_problem(text) -> str | None``: why it cannot be texted, or None.

Validity rule (a product decision). The demo, the simulator and the tests use
fictional 555-01xx numbers, and a shopper's number must never be rejected
just because libphonenumber's metadata lags behind number assignments. So a
number is accepted when libphonenumber calls it valid, **or** when it is a
NANP number that is *possible* (ten digits), whose exchange starts with 2-9,
and whose area code is in service (libphonenumber knows valid numbers in it).
``+1 555 555 1234`` (555 is not an area code) and ``+1 312 055 1234`` (exchange
starting with 0) are rejected with ``invalid_number``. Outside the NANP the
full libphonenumber validity check applies. Extensions are rejected
(``has_extension``): a text message cannot reach an extension.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import ValidationResult as _VR

PHONE_ERROR_REASONS: Final[frozenset[str]] = frozenset(
    {
        "empty",
        "not_a_number",
        "invalid_country_code",
        "too_short",
        "too_long",
        "invalid_length",
        "invalid_number",
        "has_extension",
    }
)

_MESSAGES: Final[dict[str, str]] = {
    "empty": "Phone number is empty",
    "not_a_number": "Phone number does not look like a phone number",
    "invalid_country_code": "Phone number has an unknown country code",
    "too_short": "Phone number is too short (is the area code missing?)",
    "too_long": "Phone number is too long",
    "invalid_length": "Phone number has the wrong number of digits for its country",
    "invalid_number": "Phone number is not a valid number",
    "has_extension": "Phone number has an extension, which cannot receive text messages",
}

_PARSE_REASONS: Final[dict[int, str]] = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "not_a_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_LONG: "too_long",
}

_POSSIBLE_REASONS: Final[dict[int, str]] = {
    _VR.INVALID_COUNTRY_CODE: "invalid_country_code",
    _VR.TOO_SHORT: "too_short",
    # A local-only number (seven digits in the US) lacks its area code.
    _VR.IS_POSSIBLE_LOCAL_ONLY: "too_short",
    _VR.TOO_LONG: "too_long",
    _VR.INVALID_LENGTH: "invalid_length",
}

_DISPLAY_NATIONAL_REGIONS: Final[frozenset[str]] = frozenset({"US", "CA"})

# Exchanges probed to decide whether libphonenumber considers an area code in service.
_PROBE_EXCHANGES: Final[tuple[str, ...]] = ("234", "345", "456", "567", "678", "789", "890")


class PhoneError(ValueError):
    """A phone number that cannot be used; ``reason`` is stable, ``str(e)`` is for humans."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or _MESSAGES.get(reason, "Phone number is not valid"))


@lru_cache(maxsize=1024)
def _npa_in_service(npa: str) -> bool:
    for exchange in _PROBE_EXCHANGES:
        probe = phonenumbers.parse(f"+1{npa}{exchange}0100")
        if phonenumbers.is_valid_number(probe):
            return True
    return False


def _acceptable(number: PhoneNumber) -> bool:
    if phonenumbers.is_valid_number(number):
        return True
    if number.country_code != 1:
        return False
    nsn = str(number.national_number)
    return len(nsn) == 10 and nsn[3] not in "01" and _npa_in_service(nsn[:3])


def _parse(text: object, region: str) -> PhoneNumber:
    if not isinstance(text, str):
        raise PhoneError("not_a_number")
    stripped = text.strip()
    if not stripped:
        raise PhoneError("empty")
    if not any(ch.isdigit() for ch in stripped):
        raise PhoneError("not_a_number")
    try:
        number = phonenumbers.parse(stripped, region)
    except NumberParseException as exc:
        raise PhoneError(_PARSE_REASONS.get(exc.error_type, "not_a_number")) from None
    if number.extension:
        raise PhoneError("has_extension")
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != _VR.IS_POSSIBLE:
        raise PhoneError(_POSSIBLE_REASONS.get(possible, "invalid_number"))
    if not _acceptable(number):
        raise PhoneError("invalid_number")
    return number


def parse_phone(text: str, region: str = "US") -> str:
    """Return ``text`` as E.164, or raise ``PhoneError`` with a stable ``reason``."""
    return phonenumbers.format_number(_parse(text, region), PhoneNumberFormat.E164)


def try_parse_phone(text: str, region: str = "US") -> str | None:
    """``parse_phone`` that answers ``None`` instead of raising."""
    try:
        return parse_phone(text, region)
    except PhoneError:
        return None


def format_phone(e164: str) -> str:
    """Display form: national for US/CA numbers, international for the rest.

    Accepts anything ``parse_phone`` accepts; raises ``PhoneError`` otherwise.
    """
    number = _parse(e164, "US")
    region = phonenumbers.region_code_for_number(number)
    if region in _DISPLAY_NATIONAL_REGIONS:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


_DIGITS = re.compile(r"\d")


def mask_phone(value: object) -> str:
    """Mask a phone number for logs; never raises, never reveals the subscriber number.

    A usable NANP number keeps country code, area code and its last two digits
    (``+1 312 ***-**34``); another country's number keeps its country code and
    last two digits (``+44 ********58``). Anything else keeps only its last two
    digits (``********34``), and nothing at all when it has four digits or fewer.
    """
    try:
        text = value if isinstance(value, str) else str(value)
        number = _parse(text, "US")
    except Exception:  # a log helper must never take the caller down
        return _mask_unparsed(value)
    nsn = str(number.national_number)
    last2 = nsn[-2:]
    if number.country_code == 1:
        return f"+1 {nsn[:3]} ***-**{last2}"
    return f"+{number.country_code} {'*' * (len(nsn) - 2)}{last2}"


def _mask_unparsed(value: object) -> str:
    try:
        digits = _DIGITS.findall(value if isinstance(value, str) else repr(value))
    except Exception:
        return "***"
    if len(digits) <= 4:
        return "***"
    return "*" * (len(digits) - 2) + "".join(digits[-2:])


def _try_number(e164: str) -> PhoneNumber | None:
    try:
        return _parse(e164, "US")
    except PhoneError:
        return None


@lru_cache(maxsize=4096)
def area_code(e164: str) -> str | None:
    """The three-digit NANP area code of a usable number; ``None`` for other countries.

    Remembered per number: the desktop asks again for every conversation it opens and
    on a timer (quiet hours), and parsing costs a third of a millisecond."""
    number = _try_number(e164)
    if number is None or number.country_code != 1:
        return None
    return str(number.national_number)[:3]


def is_nanp(e164: str) -> bool:
    """True for a usable number in the North American Numbering Plan (+1)."""
    number = _try_number(e164)
    return number is not None and number.country_code == 1


def region_of(e164: str) -> str | None:
    """The ISO 3166 region of a usable number ("US", "CA", "JM"...), ``None`` if unknown.

    NANP numbers share +1: the area code tells the US from Canada and the
    Caribbean (+1 876 is Jamaica), which is what a country allow-list needs."""
    number = _try_number(e164)
    if number is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    return str(region) if region else None


def format_as_typed(text: str, region: str = "US") -> str:
    """``text`` formatted the way a phone number is written while it is being typed
    ("3125" → "312-5", "3125550134" → "(312) 555-0134", "+4420" → "+44 20"), by
    libphonenumber's as-you-type formatter. Characters other than digits and a
    leading ``+`` are dropped; an empty text stays empty."""
    formatter = phonenumbers.AsYouTypeFormatter(region)
    shown = ""
    for i, ch in enumerate(text.strip()):
        if ch.isdigit() or (ch == "+" and i == 0):
            shown = formatter.input_digit(ch)
    return shown


def phone_problem(text: str, region: str = "US") -> str | None:
    """Why ``text`` is not a number a text can be sent to (a sentence for the person
    typing it), or None when ``parse_phone`` accepts it."""
    try:
        parse_phone(text, region)
    except PhoneError as exc:
        return str(exc)
    return None

"""`GET /Dealer/{UniversalRetailerId}/status` as the original answers it, and the
original's words for the retailer and location checks (shared with lead create).

Retailers and locations come from Nexus when it is configured, else from the
relay's directory (`ctx.connectors.directory`); the texts keep
the original's words ("... in Nexus") because callers were written against them.

- A retailer that is not VALID: `{"Status": "INVALID"|"NONEXISTANT", "Reason"}`.
- Otherwise `{"Status": "VALID", "Locations": [...]}`, each location with the
  original's field set (`NexusLocationId`, `UniversalLocationId`, `Name`,
  `StreetAddress`, `City`, `State`, `ZipCode`, `Web2TextPhoneNumber`,
  `StorePhoneNumber`, `CallTrackingPhoneNumber`, `Status`, `Reason`; a field
  without a value is left out) and checked as the original checks it: a
  Web2Text number given, parsed, and valid and of a textable line type per
  Twilio Lookup; `INVALID` with the reason otherwise.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from app.core.errors import ErrorReason
from app.core.lead_schema import LeadValidationError, canonical_uuid
from app.core.phones import PhoneError, parse_phone
from app.relay import directory
from app.relay.auth import Principal
from app.relay.connectors.http import CallFailed
from app.relay.errors import ApiError

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.dealer_status")

CLIENT_NONEXISTANT: Final = "Could not find client with this UniversalRetailerId in Nexus"
CLIENT_CHURNED: Final = "Nexus has flagged this retailer as a churned customer"
CLIENT_OPTED_OUT: Final = "Retailer is opted out of Web2Text"
LOCATION_NONEXISTANT: Final = "Could not find location with this Id in Nexus"
LOCATION_NOT_IN_RETAILER: Final = (
    "Location does not belong to the retailer with this UniversalRetailerId"
)
LOCATION_NO_NUMBER: Final = "Location does not have a Web2Text phone number associated in Nexus"
#: the Lookup line types the original texts
TEXTABLE_LINE_TYPES: Final = ("mobile", "nonFixedVoip", "fixedVoip", "personal")


def location_unparsable(raw: str) -> str:
    return f"Location's phone number cannot be parsed: '{raw}'"


def line_type_refused(line_type: str) -> str:
    allowed = json.dumps(list(TEXTABLE_LINE_TYPES), separators=(",", ":"))
    return (
        f"Twilio lookup reported this number as type '{line_type}' which is outside "
        f"the allowed types of phone numbers: {allowed}"
    )


def lookup_invalid(errors: list[str]) -> str:
    return f"Twilio lookup reported this number as invalid - [{', '.join(errors)}]"


@dataclass(frozen=True)
class Check:
    """A failed check in the original's terms: `name` is <What>, `status` INVALID or
    NONEXISTANT, `reason` its text; `code` our stable reason."""

    name: str
    status: str
    reason: str
    code: str

    def error(self) -> ApiError:
        return ApiError(400, self.code, f"{self.name} is {self.status} - {self.reason}")


def retailer_check(retailer: directory.Retailer | None) -> Check | None:
    """The original's client check; None when VALID."""
    if retailer is None:
        return Check("Client", "NONEXISTANT", CLIENT_NONEXISTANT, ErrorReason.UNKNOWN_RETAILER)
    if retailer.status == "Churned_Customer":
        return Check("Client", "INVALID", CLIENT_CHURNED, ErrorReason.RETAILER_CHURNED)
    if retailer.web2text_opt_out:
        return Check("Client", "INVALID", CLIENT_OPTED_OUT, ErrorReason.RETAILER_OPTED_OUT)
    return None


def number_check(raw: str | None) -> Check | None:
    """A location's Web2Text number given and parsable (the original's first checks)."""
    if raw is None or not raw.strip():
        return Check("Location", "INVALID", LOCATION_NO_NUMBER, ErrorReason.LOCATION_WITHOUT_NUMBER)
    try:
        parse_phone(raw)
    except PhoneError:
        return Check(
            "Location", "INVALID", location_unparsable(raw), ErrorReason.LOCATION_WITHOUT_NUMBER
        )
    return None


def lookup_check(ctx: RelayContext, phone: str) -> Check | None:
    """Twilio Lookup: the number valid, and of a line type the original texts.
    Raises ApiError 503 when Lookup cannot answer (nothing is claimed unchecked)."""
    twilio = ctx.twilio
    if twilio is None:
        return None
    try:
        result = twilio.call(
            "lookup",
            lambda: twilio.client.lookups.v2.phone_numbers(phone).fetch(
                fields="line_type_intelligence"
            ),
        )
    except Exception:
        raise ApiError(
            503,
            ErrorReason.UPSTREAM_UNAVAILABLE,
            "Twilio Lookup is unavailable - try again",
            headers={"Retry-After": "5"},
        ) from None
    if getattr(result, "valid", True) is False:
        errors = [str(e) for e in getattr(result, "validation_errors", None) or []]
        return Check("Phone Number", "INVALID", lookup_invalid(errors), ErrorReason.INVALID_PHONE)
    info = getattr(result, "line_type_intelligence", None) or {}
    line_type = info.get("type") if isinstance(info, dict) else None
    if line_type and str(line_type) not in TEXTABLE_LINE_TYPES:
        return Check("Phone Number", "INVALID", line_type_refused(str(line_type)), "line_type")
    return None


def dealer_status(ctx: RelayContext, raw_id: str, principal: Principal) -> dict[str, Any]:
    try:
        retailer_id = canonical_uuid(raw_id, "UniversalRetailerId")
    except LeadValidationError as e:
        raise ApiError(400, e.code, e.message) from None
    if not principal.may_access_retailer(retailer_id):
        raise ApiError(403, "forbidden", "API key is not authorized for this retailer")
    source = ctx.connectors.directory  # Nexus when configured, else the relay's directory
    try:
        failed = retailer_check(source.retailer(ctx.tables, retailer_id))
        items = [] if failed is not None else source.location_items(ctx.tables, retailer_id)
    except CallFailed:
        raise ApiError(
            503, "directory_unavailable", "Nexus is unavailable - try again later"
        ) from None
    if failed is not None:
        return {"Status": failed.status, "Reason": failed.reason}
    items = sorted(items, key=lambda i: str(i.get("Name", "")))
    return {"Status": "VALID", "Locations": [_location(ctx, item) for item in items]}


def _location(ctx: RelayContext, item: dict[str, Any]) -> dict[str, Any]:
    raw = item.get("Web2TextPhoneNumber")
    failed = number_check(str(raw) if raw is not None else None)
    if failed is None:
        failed = lookup_check(ctx, _e164(raw) or str(raw))
    entry: dict[str, Any] = {
        "NexusLocationId": item.get("NexusLocationId") or item["Id"],
        "UniversalLocationId": item["Id"],
        "Name": item.get("Name"),
        "StreetAddress": item.get("StreetAddress"),
        "City": item.get("City"),
        "State": item.get("State"),
        "ZipCode": item.get("ZipCode"),
        "Web2TextPhoneNumber": _e164(raw),
        "StorePhoneNumber": _e164(item.get("StorePhoneNumber")),
        "CallTrackingPhoneNumber": _e164(item.get("CallTrackingPhoneNumber")),
        "Status": "VALID" if failed is None else failed.status,
        "Reason": failed.reason if failed is not None else None,
    }
    # as the original: a field without a value is left out
    return {k: v for k, v in entry.items() if v not in (None, "")}


def _e164(raw: Any) -> str | None:
    if not raw:
        return None
    try:
        return parse_phone(str(raw))
    except PhoneError:
        return None

"""The WEB2TEXT lead create request (`POST /Lead/{LeadId}/create`), compatible
with the original service, and the lead's first state.

Body (DESIGN.md)::

    {"LeadType": "WEB2TEXT", "UniversalRetailerId": UUID, "SyncImmediately": true,
     "Lead": {"LocationId": UUID, "PageUrl": URL, "IPAddress"?, "Name",
              "PhoneNumber", "PreferredMethodOfContact": "text"|"phone",
              "CustomerMessage", "AssociatedProductInfo"?: {"Brand", "Product", "Variant"},
              "Traffic"?: {"Source", "Medium", "Campaign", "Content", "Term", "Type"}}}

Older callers: a missing `LeadType` means WEB2TEXT; a top-level `LocationId` is
accepted in place of `Lead.LocationId`.

Rules: control and bidirectional-override characters are refused in every
string (`app.core.safe_text`; the message may hold line breaks); strings are
trimmed; required strings must not be empty after trimming;
optional strings that are empty become absent. Every string has a length cap
(`MAX_LENGTHS`) so that one form cannot grow an item past DynamoDB's limits or
an SMS past reason. UUIDs are stored in their canonical lower-case form.

A failure raises `LeadValidationError`, whose `message` is the original's
`"<What> is <INVALID|NONEXISTANT> - <reason>"` and whose `code` is a stable
snake_case reason (`invalid_request`, `invalid_field`, `invalid_phone`, or any
`ErrorReason` the relay uses for its own checks).

Hand-written rather than a pydantic model: the messages must name the field
exactly as the original did, and each field has its own reason.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from app.core.errors import ErrorReason, error_body
from app.core.phones import PhoneError, parse_phone
from app.core.safe_text import unsafe_character
from app.core.statuses import ContactMethod, LeadStatus, SyncStatus
from app.core.wire import (
    LEAD_TYPE_WEB2TEXT,
    SCHEMA_VERSION,
    TWILIO_INTEGRATION,
    IntegrationState,
    LeadDetails,
    LeadProductInfo,
    LeadState,
    LeadTraffic,
)


class ValidationKind(StrEnum):
    """The word after "is" in the original's messages (its spelling kept)."""

    INVALID = "INVALID"
    NONEXISTANT = "NONEXISTANT"


class LeadValidationError(ValueError):
    """A create request (or a check of it) that fails; answer 400 with `body()`.

    `message` is exactly `"<what> is <kind> - <reason_text>"`; `code` (also
    `reason`) is the stable snake_case reason clients branch on.
    """

    http_status: Final = 400

    def __init__(
        self,
        what: str,
        kind: ValidationKind,
        reason_text: str,
        reason_code: str = ErrorReason.INVALID_FIELD,
    ) -> None:
        self.what = what
        self.kind = ValidationKind(kind)
        self.reason_text = reason_text
        self.code = str(reason_code)
        self.message = f"{what} is {self.kind.value} - {reason_text}"
        super().__init__(self.message)

    @property
    def reason(self) -> str:
        """Same as `code` (the name the error body uses)."""
        return self.code

    def body(self) -> dict[str, object]:
        """`{"code": 400, "message", "reason"}`."""
        return error_body(self.http_status, self.message, self.code)


INVALID: Final = ValidationKind.INVALID
NONEXISTANT: Final = ValidationKind.NONEXISTANT

#: Length caps (characters, after trimming).
MAX_LENGTHS: Final[dict[str, int]] = {
    "Name": 200,
    "CustomerMessage": 2000,
    "PageUrl": 2048,
    "IPAddress": 45,
    "BotpressConversationId": 200,
    "product": 200,  # each of Brand, Product, Variant
    "traffic": 500,  # each of Source, Medium, Campaign, Content, Term, Type
    "uuid": 45,
}

PRODUCT_FIELDS: Final = ("Brand", "Product", "Variant")
TRAFFIC_FIELDS: Final = ("Source", "Medium", "Campaign", "Content", "Term", "Type")

#: Short texts for `PhoneError.reason` (the message must read "PhoneNumber is INVALID - ...").
_PHONE_TEXT: Final[dict[str, str]] = {
    "empty": "must not be empty",
    "not_a_number": "not a valid phone number",
    "invalid_country_code": "unknown country code",
    "too_short": "too short (is the area code missing?)",
    "too_long": "too long",
    "invalid_length": "wrong number of digits for its country",
    "invalid_number": "not a valid phone number",
    "has_extension": "has an extension, which cannot receive text messages",
}


@dataclass(frozen=True, slots=True)
class ProductDetails:
    brand: str | None = None
    product: str | None = None
    variant: str | None = None


@dataclass(frozen=True, slots=True)
class TrafficDetails:
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class LeadCreate:
    """A validated create request."""

    lead_id: str
    retailer_id: str
    location_id: str
    page_url: str
    name: str
    phone: str  # E.164
    customer_message: str
    lead_type: str = LEAD_TYPE_WEB2TEXT
    sync_immediately: bool = True
    preferred_contact: ContactMethod = ContactMethod.TEXT
    ip_address: str | None = None
    product: ProductDetails | None = None
    traffic: TrafficDetails | None = None
    #: the chatbot conversation the lead came from (its summary goes to RLM and DHQ)
    botpress_conversation_id: str | None = None
    #: `Lead.Source`: None for the website form, "staff" for a conversation staff started
    source: str | None = None

    def lead_details(self) -> LeadDetails:
        """The `Lead` part of the lead state."""
        product = None
        if self.product is not None:
            p = self.product
            product = LeadProductInfo(Brand=p.brand, Product=p.product, Variant=p.variant)
        traffic = None
        if self.traffic is not None:
            t = self.traffic
            traffic = LeadTraffic(
                Source=t.source,
                Medium=t.medium,
                Campaign=t.campaign,
                Content=t.content,
                Term=t.term,
                Type=t.type,
            )
        return LeadDetails(
            LocationId=self.location_id,
            PageUrl=self.page_url,
            IPAddress=self.ip_address,
            Name=self.name,
            PhoneNumber=self.phone,
            PreferredMethodOfContact=self.preferred_contact,
            CustomerMessage=self.customer_message,
            AssociatedProductInfo=product,
            Traffic=traffic,
            BotpressConversationId=self.botpress_conversation_id,
            Source=self.source,
        )


#: The name docs/architecture.md uses for the parsed request.
LeadCreateRequest = LeadCreate


# --------------------------------------------------------------------------- field parsers


def _text(
    value: object,
    what: str,
    cap: int,
    *,
    required: bool,
    code: str = ErrorReason.INVALID_FIELD,
    multiline: bool = False,
) -> str | None:
    if value is None:
        if required:
            raise LeadValidationError(what, NONEXISTANT, "required", code)
        return None
    if not isinstance(value, str):
        raise LeadValidationError(what, INVALID, "must be a string", code)
    if not _encodable(value):
        raise LeadValidationError(what, INVALID, "contains invalid characters", code)
    bad = unsafe_character(value, multiline=multiline)
    if bad is not None:
        raise LeadValidationError(what, INVALID, f"contains a {bad}", ErrorReason.INVALID_FIELD)
    text = value.strip()
    if not text:
        if required:
            raise LeadValidationError(what, INVALID, "must not be empty", code)
        return None
    if len(text) > cap:
        raise LeadValidationError(what, INVALID, f"longer than {cap} characters", code)
    return text


def _encodable(text: str) -> bool:
    # JSON may carry lone surrogates ("\ud800"); they cannot be stored or sent.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _required_text(value: object, what: str, cap: int, *, multiline: bool = False) -> str:
    text = _text(value, what, cap, required=True, multiline=multiline)
    assert text is not None
    return text


def canonical_uuid(value: object, what: str) -> str:
    """`value` as a canonical lower-case UUID string, or `LeadValidationError`."""
    text = _required_text(value, what, MAX_LENGTHS["uuid"])
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise LeadValidationError(what, INVALID, "not a valid UUID") from None


def parse_lead_id(value: object) -> str:
    """The `{LeadId}` path parameter: a UUID (canonical form), for every handler."""
    return canonical_uuid(value, "LeadId")


def _url(value: object) -> str:
    text = _required_text(value, "PageUrl", MAX_LENGTHS["PageUrl"])
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise LeadValidationError("PageUrl", INVALID, "not a valid http(s) URL")
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise LeadValidationError("PageUrl", INVALID, "not a valid http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise LeadValidationError("PageUrl", INVALID, "not a valid http(s) URL")
    return text


def _ip(value: object) -> str | None:
    text = _text(value, "IPAddress", MAX_LENGTHS["IPAddress"], required=False)
    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise LeadValidationError("IPAddress", INVALID, "not a valid IP address") from None


def _phone(value: object) -> str:
    if value is None:
        raise LeadValidationError("PhoneNumber", NONEXISTANT, "required", ErrorReason.INVALID_PHONE)
    if not isinstance(value, str):
        raise LeadValidationError(
            "PhoneNumber", INVALID, "must be a string", ErrorReason.INVALID_PHONE
        )
    if not _encodable(value):
        raise LeadValidationError(
            "PhoneNumber", INVALID, "not a valid phone number", ErrorReason.INVALID_PHONE
        )
    try:
        return parse_phone(value)
    except PhoneError as exc:
        text = _PHONE_TEXT.get(exc.reason, "not a valid phone number")
        raise LeadValidationError("PhoneNumber", INVALID, text, ErrorReason.INVALID_PHONE) from None


def _contact(value: object) -> ContactMethod:
    if value is None:
        return ContactMethod.TEXT
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return ContactMethod.TEXT
        for method in ContactMethod:
            if text == method.value:
                return method
    raise LeadValidationError("PreferredMethodOfContact", INVALID, 'must be "text" or "phone"')


def _bool(value: object, what: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    # Some form builders send booleans as strings.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise LeadValidationError(what, INVALID, "must be true or false")


def _object(value: object, what: str) -> Mapping[str, object] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise LeadValidationError(what, INVALID, "must be an object")
    return value


def _product(value: object) -> ProductDetails | None:
    obj = _object(value, "AssociatedProductInfo")
    if obj is None:
        return None
    cap = MAX_LENGTHS["product"]
    fields = [
        _text(obj.get(name), f"AssociatedProductInfo.{name}", cap, required=False)
        for name in PRODUCT_FIELDS
    ]
    if all(f is None for f in fields):
        return None
    return ProductDetails(*fields)


def _traffic(value: object) -> TrafficDetails | None:
    obj = _object(value, "Traffic")
    if obj is None:
        return None
    cap = MAX_LENGTHS["traffic"]
    fields = [
        _text(obj.get(name), f"Traffic.{name}", cap, required=False) for name in TRAFFIC_FIELDS
    ]
    if all(f is None for f in fields):
        return None
    return TrafficDetails(*fields)


def _lead_type(value: object) -> str:
    if value is None:
        return LEAD_TYPE_WEB2TEXT  # older callers did not send it
    if isinstance(value, str) and value.strip().upper() == LEAD_TYPE_WEB2TEXT:
        return LEAD_TYPE_WEB2TEXT
    # ACTON requests are parsed by app.core.acton_schema
    raise LeadValidationError("LeadType", INVALID, "must be WEB2TEXT or ACTON")


def _location_id(body: Mapping[str, object], lead: Mapping[str, object]) -> str:
    nested = lead.get("LocationId")
    top = body.get("LocationId")
    if nested is None and top is None:
        raise LeadValidationError("LocationId", NONEXISTANT, "required")
    if nested is not None:
        location = canonical_uuid(nested, "LocationId")
        if top is not None and canonical_uuid(top, "LocationId") != location:
            raise LeadValidationError(
                "LocationId", INVALID, "Lead.LocationId and LocationId differ"
            )
        return location
    return canonical_uuid(top, "LocationId")


# --------------------------------------------------------------------------- entry points


def parse_create_request(lead_id: str, body: object) -> LeadCreate:
    """Validate `POST /Lead/{lead_id}/create`'s decoded JSON body.

    Raises `LeadValidationError` (and nothing else) for any input.
    """
    parsed_id = parse_lead_id(lead_id)
    if not isinstance(body, Mapping) or not all(isinstance(k, str) for k in body):
        raise LeadValidationError(
            "Body", INVALID, "must be a JSON object", ErrorReason.INVALID_REQUEST
        )
    lead_type = _lead_type(body.get("LeadType"))
    retailer_id = canonical_uuid(body.get("UniversalRetailerId"), "UniversalRetailerId")
    sync_immediately = _bool(body.get("SyncImmediately"), "SyncImmediately", default=True)
    lead = _object(body.get("Lead"), "Lead")
    if lead is None:
        raise LeadValidationError("Lead", NONEXISTANT, "required", ErrorReason.INVALID_REQUEST)
    return LeadCreate(
        lead_id=parsed_id,
        lead_type=lead_type,
        retailer_id=retailer_id,
        sync_immediately=sync_immediately,
        location_id=_location_id(body, lead),
        page_url=_url(lead.get("PageUrl")),
        ip_address=_ip(lead.get("IPAddress")),
        name=_required_text(lead.get("Name"), "Name", MAX_LENGTHS["Name"]),
        phone=_phone(lead.get("PhoneNumber")),
        preferred_contact=_contact(lead.get("PreferredMethodOfContact")),
        customer_message=_required_text(
            lead.get("CustomerMessage"),
            "CustomerMessage",
            MAX_LENGTHS["CustomerMessage"],
            multiline=True,
        ),
        product=_product(lead.get("AssociatedProductInfo")),
        traffic=_traffic(lead.get("Traffic")),
        botpress_conversation_id=_text(
            lead.get("BotpressConversationId"),
            "BotpressConversationId",
            MAX_LENGTHS["BotpressConversationId"],
            required=False,
        ),
    )


#: the fields of `POST /v1/leads` (`app.core.wire_staff.NewLeadRequest`)
STAFF_LEAD_FIELDS: Final = frozenset({"locationId", "name", "phone", "note", "leadId"})
MAX_STAFF_NOTE: Final = 2000


def parse_staff_lead(body: object, retailer_id: str) -> tuple[LeadCreate, str | None]:
    """Validate `POST /v1/leads` (a conversation started by staff): the lead to create
    (`Lead.Source` "staff", nothing the customer typed) and the staff member's note.

    The lead id is the body's `leadId` (the desktop names its pending row) or a new
    one. Raises `LeadValidationError` for any bad input.
    """
    if not isinstance(body, Mapping) or not all(isinstance(k, str) for k in body):
        raise LeadValidationError(
            "Body", INVALID, "must be a JSON object", ErrorReason.INVALID_REQUEST
        )
    unknown = set(body) - STAFF_LEAD_FIELDS
    if unknown:
        raise LeadValidationError(
            "Body",
            INVALID,
            f"unknown fields: {', '.join(sorted(unknown))}",
            ErrorReason.INVALID_REQUEST,
        )
    lead_id = body.get("leadId")
    phone = body.get("phone")
    if not isinstance(phone, str) or not phone.strip():
        raise LeadValidationError("phone", NONEXISTANT, "required", ErrorReason.INVALID_PHONE)
    try:
        e164 = parse_phone(phone)
    except PhoneError as exc:
        text = _PHONE_TEXT.get(exc.reason, "not a valid phone number")
        raise LeadValidationError("phone", INVALID, text, ErrorReason.INVALID_PHONE) from None
    create = LeadCreate(
        lead_id=canonical_uuid(lead_id, "leadId") if lead_id is not None else str(uuid.uuid4()),
        retailer_id=canonical_uuid(retailer_id, "UniversalRetailerId"),
        location_id=canonical_uuid(body.get("locationId"), "locationId"),
        page_url="",
        name=_required_text(body.get("name"), "name", MAX_LENGTHS["Name"]),
        phone=e164,
        customer_message="",
        source="staff",
    )
    note = _text(body.get("note"), "note", MAX_STAFF_NOTE, required=False, multiline=True)
    return create, note


def initial_lead_state(create: LeadCreate, now: datetime) -> LeadState:
    """The lead's first state: ACTIVE, Twilio not synced yet.

    `now` must be timezone-aware (it becomes `DateSubmitted`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return LeadState(
        LeadId=create.lead_id,
        LeadType=create.lead_type,
        Status=LeadStatus.ACTIVE,
        SchemaVersion=SCHEMA_VERSION,
        UniversalRetailerId=create.retailer_id,
        Lead=create.lead_details(),
        DateSubmitted=now,
        Integrations={TWILIO_INTEGRATION: IntegrationState(SyncStatus=SyncStatus.NOT_SYNCED)},
    )

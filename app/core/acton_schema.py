"""The ACTON lead create request (`POST /Lead/{LeadId}/create` with `LeadType:
"ACTON"`), compatible with the original service (../shared/connectors.md §6).

Envelope: `LeadType: "ACTON"`, `UniversalRetailerId` (a UUID, required, not
checked against the directory), `SchemaVersion` (a string, default "2.0.0"),
`SyncImmediately` (bool, default true), and `Lead`, an object:

- required strings: "First Name", "Last Name", "E-mail Address" (a valid e-mail
  address), "Home Postal Code", preferred_location (empty strings pass);
- optional strings: the `OPTIONAL_FIELDS` below (declared fields must be strings);
- any other key passes through unchanged, of any JSON type (`listId`, which the
  ActOn connector reads, is one of them).

The original's validator for these leads always answers VALID. Values are kept
as the caller sent them, but must be storable in DynamoDB: numbers become
`Decimal` (non-finite ones and those beyond DynamoDB's 38 digits are refused) and
nesting is bounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from app.core.errors import ErrorReason
from app.core.lead_schema import (
    INVALID,
    NONEXISTANT,
    LeadValidationError,
    canonical_uuid,
    parse_lead_id,
)

LEAD_TYPE_ACTON: Final = "ACTON"
DEFAULT_SCHEMA_VERSION: Final = "2.0.0"

REQUIRED_FIELDS: Final = (
    "First Name",
    "Last Name",
    "E-mail Address",
    "Home Postal Code",
    "preferred_location",
)
OPTIONAL_FIELDS: Final = (
    *("ao_a", "ao_f", "ao_d", "ao_p", "ao_jstzo", "ao_cuid", "ao_srcid", "ao_bot", "ao_camp"),
    *("Home Phone", "dealername", "dealermhwkacct", "dealerurl", "dealerfrom", "dealerlogo"),
    *("dealeraddr", "dealeraddrline", "dealerphone", "dealerfacebook", "dealertwitter"),
    *("dealeryoutube", "dealergooglep", "dealerlinkedin", "dealerinstagram", "dealerpinterest"),
    *("omnifycampaign", "tags", "formname", "promotion", "source", "foreignid", "dealerzip"),
    *("storelocation", "formcategory", "sourcedetail", "sourceurl", "dealercity", "dealerstate"),
    *("traffic-type", "traffic-medium", "traffic-source", "traffic-term", "traffic-content"),
    *("traffic-campaign", "floorlytics-blob", "notes", "comments", "optin", "ao_form_neg_cap"),
)

#: the shape zod's `.email()` accepts: no leading dot, no "..", a dotted domain
#: whose last label has two letters or more
_EMAIL: Final = re.compile(
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9_'+\-.]*[A-Za-z0-9_+\-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
)
#: DynamoDB refuses documents nested deeper than 32 levels; the lead item adds two
MAX_DEPTH: Final = 16
#: DynamoDB numbers hold 38 significant digits
_MAX_DIGITS: Final = 38


@dataclass(frozen=True, slots=True)
class ActOnCreate:
    """A validated ACTON create request."""

    lead_id: str
    retailer_id: str
    lead: dict[str, Any] = field(default_factory=dict)
    schema_version: str = DEFAULT_SCHEMA_VERSION
    sync_immediately: bool = True
    lead_type: str = LEAD_TYPE_ACTON


def is_acton(body: object) -> bool:
    """Whether a decoded create body asks for an ACTON lead."""
    if not isinstance(body, Mapping):
        return False
    value = body.get("LeadType")
    return isinstance(value, str) and value.strip().upper() == LEAD_TYPE_ACTON


def parse_acton_request(lead_id: str, body: object) -> ActOnCreate:
    """Validate an ACTON create body; raises `LeadValidationError` (and nothing else)."""
    parsed_id = parse_lead_id(lead_id)
    if not isinstance(body, Mapping) or not all(isinstance(k, str) for k in body):
        raise LeadValidationError(
            "Body", INVALID, "must be a JSON object", ErrorReason.INVALID_REQUEST
        )
    retailer_id = canonical_uuid(body.get("UniversalRetailerId"), "UniversalRetailerId")
    version = body.get("SchemaVersion", DEFAULT_SCHEMA_VERSION)
    if not isinstance(version, str):
        raise LeadValidationError("SchemaVersion", INVALID, "must be a string")
    sync = body.get("SyncImmediately")
    if sync is not None and not isinstance(sync, bool):
        raise LeadValidationError("SyncImmediately", INVALID, "must be true or false")
    lead = body.get("Lead")
    if lead is None:
        raise LeadValidationError("Lead", NONEXISTANT, "required", ErrorReason.INVALID_REQUEST)
    if not isinstance(lead, Mapping) or not all(isinstance(k, str) for k in lead):
        raise LeadValidationError("Lead", INVALID, "must be an object")
    for name in REQUIRED_FIELDS:
        if lead.get(name) is None:
            raise LeadValidationError(f"Lead.{name}", NONEXISTANT, "required")
    for name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        if name in lead and not isinstance(lead[name], str):
            raise LeadValidationError(f"Lead.{name}", INVALID, "must be a string")
    if not _EMAIL.match(str(lead["E-mail Address"])):
        raise LeadValidationError("Lead.E-mail Address", INVALID, "not a valid e-mail address")
    stored = {k: _storable(v, f"Lead.{k}", 1) for k, v in lead.items()}
    return ActOnCreate(
        lead_id=parsed_id,
        retailer_id=retailer_id,
        lead=stored,
        schema_version=version,
        sync_immediately=True if sync is None else sync,
    )


def initial_acton_state(create: ActOnCreate, submitted: str) -> dict[str, Any]:
    """The lead's first state (ACTIVE, no integration run yet): the compatible item."""
    return {
        "LeadId": create.lead_id,
        "LeadType": LEAD_TYPE_ACTON,
        "Status": "ACTIVE",
        "SchemaVersion": DEFAULT_SCHEMA_VERSION,  # the original always stores 2.0.0
        "UniversalRetailerId": create.retailer_id,
        "Lead": dict(create.lead),
        "DateSubmitted": submitted,
        "Integrations": {},
    }


def _storable(value: Any, what: str, depth: int) -> Any:
    """`value` as DynamoDB can store it (numbers as Decimal), or LeadValidationError."""
    if depth > MAX_DEPTH:
        raise LeadValidationError(what, INVALID, "nested too deeply")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _number(value, what)
    if isinstance(value, list):
        return [_storable(v, what, depth + 1) for v in value]
    if isinstance(value, Mapping):
        if any(not isinstance(k, str) or not k for k in value):
            raise LeadValidationError(what, INVALID, "has an empty key")
        return {k: _storable(v, f"{what}.{k}", depth + 1) for k, v in value.items()}
    raise LeadValidationError(what, INVALID, "not a JSON value")


def _number(value: int | float, what: str) -> Decimal:
    if isinstance(value, float) and not math.isfinite(value):
        raise LeadValidationError(what, INVALID, "not a finite number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise LeadValidationError(what, INVALID, "not a number") from None
    significant = "".join(str(d) for d in number.as_tuple().digits).strip("0")
    if len(significant) > _MAX_DIGITS or (number and not -130 <= number.adjusted() <= 125):
        raise LeadValidationError(what, INVALID, "a number too large or too precise")
    return number

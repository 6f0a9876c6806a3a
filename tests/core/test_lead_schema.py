"""The WEB2TEXT create request: fields, defaults, older shapes, error messages."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.lead_schema import (
    MAX_LENGTHS,
    LeadCreate,
    LeadValidationError,
    ProductDetails,
    TrafficDetails,
    ValidationKind,
    initial_lead_state,
    parse_create_request,
    parse_lead_id,
)
from app.core.statuses import ContactMethod, LeadStatus, SyncStatus
from app.core.wire import LeadState, dump

LEAD_ID = "3f1c2b1e-9a4b-4c39-9a55-5b0d3c1e2f00"
RETAILER = "0d7f8a40-1111-4e5b-8b0b-0c3a1d2e3f41"
LOCATION = "7a1b2c3d-2222-4e5b-8b0b-0c3a1d2e3f42"


def body(**lead_overrides: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "LocationId": LOCATION,
        "PageUrl": "https://floors.example/oak?utm_source=x",
        "IPAddress": "203.0.113.7",
        "Name": "  Pat Doe ",
        "PhoneNumber": "(312) 555-0134",
        "PreferredMethodOfContact": "text",
        "CustomerMessage": "Is the oak in stock?",
        "AssociatedProductInfo": {"Brand": "Acme", "Product": "Oak", "Variant": "Natural"},
        "Traffic": {
            "Source": "google",
            "Medium": "cpc",
            "Campaign": "spring",
            "Content": "ad1",
            "Term": "oak floor",
            "Type": "paid",
        },
    }
    lead.update(lead_overrides)
    lead = {k: v for k, v in lead.items() if v is not _DROP}
    return {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": RETAILER,
        "SyncImmediately": True,
        "Lead": lead,
    }


_DROP = object()


def error(b: object, lead_id: str = LEAD_ID) -> LeadValidationError:
    with pytest.raises(LeadValidationError) as info:
        parse_create_request(lead_id, b)
    return info.value


def test_full_request() -> None:
    create = parse_create_request(LEAD_ID, body())
    assert create == LeadCreate(
        lead_id=LEAD_ID,
        lead_type="WEB2TEXT",
        retailer_id=RETAILER,
        sync_immediately=True,
        location_id=LOCATION,
        page_url="https://floors.example/oak?utm_source=x",
        ip_address="203.0.113.7",
        name="Pat Doe",
        phone="+13125550134",
        preferred_contact=ContactMethod.TEXT,
        customer_message="Is the oak in stock?",
        product=ProductDetails("Acme", "Oak", "Natural"),
        traffic=TrafficDetails("google", "cpc", "spring", "ad1", "oak floor", "paid"),
    )


def test_defaults_and_older_callers() -> None:
    b = body(
        PreferredMethodOfContact=_DROP,
        IPAddress=_DROP,
        AssociatedProductInfo=_DROP,
        Traffic=_DROP,
        LocationId=_DROP,
    )
    del b["LeadType"], b["SyncImmediately"]
    b["LocationId"] = LOCATION.upper()  # older callers put it at the top level
    create = parse_create_request(LEAD_ID, b)
    assert create.lead_type == "WEB2TEXT"
    assert create.sync_immediately is True
    assert create.preferred_contact is ContactMethod.TEXT
    assert create.location_id == LOCATION
    assert create.ip_address is None and create.product is None and create.traffic is None


def test_both_location_ids_must_agree() -> None:
    b = body()
    b["LocationId"] = LOCATION
    assert parse_create_request(LEAD_ID, b).location_id == LOCATION
    b["LocationId"] = RETAILER
    e = error(b)
    assert e.message == "LocationId is INVALID - Lead.LocationId and LocationId differ"


def test_uuids_are_canonical() -> None:
    b = body()
    b["UniversalRetailerId"] = RETAILER.upper()
    create = parse_create_request(LEAD_ID.upper(), b)
    assert create.lead_id == LEAD_ID and create.retailer_id == RETAILER
    assert parse_lead_id(LEAD_ID.replace("-", "")) == LEAD_ID


@pytest.mark.parametrize(
    ("value", "expected"),
    [("phone", "phone"), ("PHONE", "phone"), (" Text ", "text"), ("", "text"), (None, "text")],
)
def test_preferred_contact(value: object, expected: str) -> None:
    create = parse_create_request(LEAD_ID, body(PreferredMethodOfContact=value))
    assert create.preferred_contact.value == expected


@pytest.mark.parametrize(("value", "expected"), [(False, False), ("false", False), ("TRUE", True)])
def test_sync_immediately(value: object, expected: bool) -> None:
    b = body()
    b["SyncImmediately"] = value
    assert parse_create_request(LEAD_ID, b).sync_immediately is expected


def test_optional_parts_blank_become_absent() -> None:
    create = parse_create_request(
        LEAD_ID,
        body(IPAddress="  ", AssociatedProductInfo={"Brand": " "}, Traffic={}),
    )
    assert create.ip_address is None and create.product is None and create.traffic is None
    partial = parse_create_request(LEAD_ID, body(AssociatedProductInfo={"Brand": " Acme "}))
    assert partial.product == ProductDetails(brand="Acme")
    assert parse_create_request(LEAD_ID, body(IPAddress="2001:DB8::1")).ip_address == "2001:db8::1"


@pytest.mark.parametrize(
    ("mutate", "message", "code"),
    [
        (
            lambda b: b.update(LeadType="SMS"),
            "LeadType is INVALID - must be WEB2TEXT or ACTON",
            "invalid_field",
        ),
        (
            lambda b: b.pop("UniversalRetailerId"),
            "UniversalRetailerId is NONEXISTANT - required",
            "invalid_field",
        ),
        (
            lambda b: b.update(UniversalRetailerId="acme"),
            "UniversalRetailerId is INVALID - not a valid UUID",
            "invalid_field",
        ),
        (
            lambda b: b.update(UniversalRetailerId=12),
            "UniversalRetailerId is INVALID - must be a string",
            "invalid_field",
        ),
        (
            lambda b: b.update(SyncImmediately="yes"),
            "SyncImmediately is INVALID - must be true or false",
            "invalid_field",
        ),
        (lambda b: b.pop("Lead"), "Lead is NONEXISTANT - required", "invalid_request"),
        (lambda b: b.update(Lead=[1]), "Lead is INVALID - must be an object", "invalid_field"),
        (
            lambda b: b["Lead"].pop("LocationId"),
            "LocationId is NONEXISTANT - required",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(LocationId="x"),
            "LocationId is INVALID - not a valid UUID",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PageUrl="ftp://x.example/"),
            "PageUrl is INVALID - not a valid http(s) URL",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PageUrl="https://"),
            "PageUrl is INVALID - not a valid http(s) URL",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PageUrl="https://x.example:99999/"),
            "PageUrl is INVALID - not a valid http(s) URL",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PageUrl="http://[::1/"),
            "PageUrl is INVALID - not a valid http(s) URL",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PageUrl="https://x.example/a b"),
            "PageUrl is INVALID - not a valid http(s) URL",
            "invalid_field",
        ),
        (lambda b: b["Lead"].pop("PageUrl"), "PageUrl is NONEXISTANT - required", "invalid_field"),
        (
            lambda b: b["Lead"].update(IPAddress="999.1.1.1"),
            "IPAddress is INVALID - not a valid IP address",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(Name="   "),
            "Name is INVALID - must not be empty",
            "invalid_field",
        ),
        (lambda b: b["Lead"].pop("Name"), "Name is NONEXISTANT - required", "invalid_field"),
        (
            lambda b: b["Lead"].update(Name="x" * 201),
            "Name is INVALID - longer than 200 characters",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PhoneNumber="555-555-1234"),
            "PhoneNumber is INVALID - not a valid phone number",
            "invalid_phone",
        ),
        (
            lambda b: b["Lead"].update(PhoneNumber="hello"),
            "PhoneNumber is INVALID - not a valid phone number",
            "invalid_phone",
        ),
        (
            lambda b: b["Lead"].update(PhoneNumber="555-0134"),
            "PhoneNumber is INVALID - too short (is the area code missing?)",
            "invalid_phone",
        ),
        (
            lambda b: b["Lead"].update(PhoneNumber=3125550134),
            "PhoneNumber is INVALID - must be a string",
            "invalid_phone",
        ),
        (
            lambda b: b["Lead"].pop("PhoneNumber"),
            "PhoneNumber is NONEXISTANT - required",
            "invalid_phone",
        ),
        (
            lambda b: b["Lead"].update(PreferredMethodOfContact="email"),
            'PreferredMethodOfContact is INVALID - must be "text" or "phone"',
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(PreferredMethodOfContact=1),
            'PreferredMethodOfContact is INVALID - must be "text" or "phone"',
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(CustomerMessage=""),
            "CustomerMessage is INVALID - must not be empty",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(CustomerMessage="x" * 2001),
            "CustomerMessage is INVALID - longer than 2000 characters",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(AssociatedProductInfo="Oak"),
            "AssociatedProductInfo is INVALID - must be an object",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(AssociatedProductInfo={"Brand": 5}),
            "AssociatedProductInfo.Brand is INVALID - must be a string",
            "invalid_field",
        ),
        (
            lambda b: b["Lead"].update(Traffic={"Term": "t" * 501}),
            "Traffic.Term is INVALID - longer than 500 characters",
            "invalid_field",
        ),
    ],
)
def test_errors_name_the_field(mutate: Any, message: str, code: str) -> None:
    b = body()
    mutate(b)
    e = error(b)
    assert e.message == message
    assert str(e) == message
    assert e.code == code == e.reason
    assert e.body() == {"code": 400, "message": message, "reason": code}
    assert e.kind.value in message


@pytest.mark.parametrize("b", [None, [], "x", 3, [["LeadType", "WEB2TEXT"]], {1: 2}])
def test_body_must_be_an_object(b: object) -> None:
    e = error(b)
    assert e.message == "Body is INVALID - must be a JSON object"
    assert e.code == "invalid_request"


@pytest.mark.parametrize("lead_id", ["", "abc", "3f1c2b1e-9a4b-4c39-9a55-5b0d3c1e2f0", "x" * 100])
def test_lead_id_must_be_a_uuid(lead_id: str) -> None:
    e = error(body(), lead_id=lead_id)
    assert e.what == "LeadId"
    assert e.code == "invalid_field"
    assert e.message.startswith("LeadId is ")


def test_lead_validation_error_for_relay_checks() -> None:
    e = LeadValidationError(
        "UniversalRetailerId", ValidationKind.NONEXISTANT, "retailer unknown", "unknown_retailer"
    )
    assert e.message == "UniversalRetailerId is NONEXISTANT - retailer unknown"
    assert e.http_status == 400
    assert e.body()["reason"] == "unknown_retailer"


def test_length_caps_documented() -> None:
    assert MAX_LENGTHS["Name"] == 200 and MAX_LENGTHS["CustomerMessage"] == 2000


def test_initial_lead_state() -> None:
    now = datetime(2026, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    state = initial_lead_state(parse_create_request(LEAD_ID, body()), now)
    assert state.Status is LeadStatus.ACTIVE
    assert state.Integrations["Twilio"].SyncStatus is SyncStatus.NOT_SYNCED
    assert state.conversation_sid is None
    data = dump(state)
    assert data["LeadId"] == LEAD_ID
    assert data["SchemaVersion"] == "2.0.0"
    assert data["DateSubmitted"] == "2026-05-01T14:30:00Z"
    assert data["Lead"]["PhoneNumber"] == "+13125550134"
    assert data["Lead"]["Name"] == "Pat Doe"
    assert data["Lead"]["AssociatedProductInfo"] == {
        "Brand": "Acme",
        "Product": "Oak",
        "Variant": "Natural",
    }
    assert data["Lead"]["Traffic"]["Term"] == "oak floor"
    assert "CloseReason" not in data
    assert LeadState.from_json(state.to_json()) == state
    minimal = initial_lead_state(
        parse_create_request(
            LEAD_ID, body(AssociatedProductInfo=None, Traffic=None, IPAddress=None)
        ),
        now,
    )
    assert set(dump(minimal)["Lead"]) == {
        "LocationId",
        "PageUrl",
        "Name",
        "PhoneNumber",
        "PreferredMethodOfContact",
        "CustomerMessage",
    }
    with pytest.raises(ValueError):
        initial_lead_state(parse_create_request(LEAD_ID, body()), datetime(2026, 1, 1))


# --------------------------------------------------------------------------- property tests

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
field_names = st.sampled_from(
    [
        "LeadType",
        "UniversalRetailerId",
        "SyncImmediately",
        "LocationId",
        "PageUrl",
        "IPAddress",
        "Name",
        "PhoneNumber",
        "PreferredMethodOfContact",
        "CustomerMessage",
        "AssociatedProductInfo",
        "Traffic",
        "Brand",
        "Source",
    ]
)


def _only_validation_errors(lead_id: str, b: object) -> None:
    try:
        create = parse_create_request(lead_id, b)
    except LeadValidationError as e:
        assert e.message == f"{e.what} is {e.kind.value} - {e.reason_text}"
        assert e.code and e.code == e.code.lower() and " " not in e.code
        return
    # accepted: the lead state builds and survives a JSON round trip
    state = initial_lead_state(create, datetime(2026, 1, 1, tzinfo=UTC))
    assert LeadState.from_json(state.to_json()) == state


@settings(max_examples=150)
@given(st.text(max_size=40), json_values)
def test_arbitrary_json_only_raises_validation_errors(lead_id: str, b: object) -> None:
    _only_validation_errors(lead_id, b)


@settings(max_examples=150)
@given(
    st.dictionaries(field_names, json_values, max_size=6),
    st.dictionaries(field_names, json_values, max_size=6),
)
def test_mutated_bodies_only_raise_validation_errors(
    top: dict[str, Any], lead: dict[str, Any]
) -> None:
    b = copy.deepcopy(body())
    b.update(top)
    if isinstance(b.get("Lead"), dict):
        b["Lead"].update(lead)
    _only_validation_errors(LEAD_ID, b)
    # and the same through JSON text, as the relay receives it
    _only_validation_errors(LEAD_ID, json.loads(json.dumps(b)))


@pytest.mark.parametrize("field", ["Name", "PhoneNumber", "Brand"])
def test_lone_surrogates_rejected(field: str) -> None:
    # json.loads('"\\ud800"') yields a string that cannot be encoded, stored or sent
    b = (
        body(AssociatedProductInfo={"Brand": "\ud800"})
        if field == "Brand"
        else body(**{field: "x\ud800"})
    )
    e = error(json.loads(json.dumps(b)))
    assert "INVALID" in e.message


@settings(max_examples=100)
@given(st.text(max_size=300, alphabet=st.characters(exclude_categories=())))
def test_free_text_fields(text: str) -> None:
    for field in ("Name", "CustomerMessage", "PhoneNumber", "PageUrl", "IPAddress"):
        _only_validation_errors(LEAD_ID, body(**{field: text}))


def test_botpress_conversation_id_is_kept_for_the_connectors() -> None:
    """The chatbot conversation a lead came from (the Botpress connector reads it)."""
    req = parse_create_request(LEAD_ID, body(BotpressConversationId=" conv_42 "))
    state = initial_lead_state(req, datetime(2026, 5, 1, tzinfo=UTC)).to_dict()
    assert state["Lead"]["BotpressConversationId"] == "conv_42"
    without = initial_lead_state(parse_create_request(LEAD_ID, body()), datetime.now(UTC))
    assert "BotpressConversationId" not in without.to_dict()["Lead"]
    assert error(body(BotpressConversationId=7)).message == (
        "BotpressConversationId is INVALID - must be a string"
    )

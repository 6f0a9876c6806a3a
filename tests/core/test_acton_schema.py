"""The ACTON create request (../shared/connectors.md §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.core.acton_schema import (
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    initial_acton_state,
    is_acton,
    parse_acton_request,
)
from app.core.lead_schema import LeadValidationError

LEAD_ID = "0b8d6f7e-3c2a-4f1b-9e5d-7a6c5b4a3f21"
RETAILER = "5f0e9d8c-7b6a-4c3d-8e2f-1a0b9c8d7e6f"


def body(**lead: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "First Name": "Avery",
        "Last Name": "Form",
        "E-mail Address": "avery@example.com",
        "Home Postal Code": "60601",
        "preferred_location": "",
    }
    fields.update(lead)
    return {"LeadType": "ACTON", "UniversalRetailerId": RETAILER, "Lead": fields}


def refusal(request: Any) -> str:
    with pytest.raises(LeadValidationError) as info:
        parse_acton_request(LEAD_ID, request)
    return info.value.message


def test_is_acton() -> None:
    assert is_acton({"LeadType": " acton "}) and not is_acton({"LeadType": "WEB2TEXT"})
    assert not is_acton({}) and not is_acton([1])


def test_a_valid_request_keeps_every_key() -> None:
    request = body(listId="l-1", extra={"n": 2, "x": 1.25, "list": [True, None, "s"]})
    parsed = parse_acton_request(LEAD_ID, request)
    assert parsed.retailer_id == RETAILER and parsed.sync_immediately is True
    assert parsed.lead["listId"] == "l-1"
    extra = {"n": Decimal(2), "x": Decimal("1.25"), "list": [True, None, "s"]}
    assert parsed.lead["extra"] == extra
    state = initial_acton_state(parsed, "2026-01-01T00:00:00Z")
    assert state["LeadType"] == "ACTON" and state["Integrations"] == {}
    assert state["SchemaVersion"] == "2.0.0" and state["Status"] == "ACTIVE"


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_every_required_field(name: str) -> None:
    request = body()
    del request["Lead"][name]
    assert refusal(request) == f"Lead.{name} is NONEXISTANT - required"


@pytest.mark.parametrize("name", [*REQUIRED_FIELDS, *OPTIONAL_FIELDS[:3], "optin"])
def test_declared_fields_are_strings(name: str) -> None:
    assert refusal(body(**{name: True})) == f"Lead.{name} is INVALID - must be a string"


@pytest.mark.parametrize("email", ["invalid-email", "a@b", ".a@b.co", "a..b@c.co", "a@b.c"])
def test_invalid_email(email: str) -> None:
    assert refusal(body(**{"E-mail Address": email})).startswith("Lead.E-mail Address is INVALID")


def test_envelope() -> None:
    assert refusal({**body(), "UniversalRetailerId": "x"}).startswith("UniversalRetailerId is")
    assert refusal({**body(), "SyncImmediately": "yes"}).startswith("SyncImmediately is")
    assert refusal({**body(), "SchemaVersion": 2}).startswith("SchemaVersion is")
    assert refusal({"LeadType": "ACTON", "UniversalRetailerId": RETAILER}).startswith("Lead is")
    assert refusal([1]).startswith("Body is")


def test_values_dynamodb_cannot_store_are_refused() -> None:
    deep: Any = "x"
    for _ in range(20):
        deep = {"d": deep}
    assert "nested too deeply" in refusal(body(extra=deep))
    assert "finite" in refusal(body(extra=float("nan")))
    assert "too large" in refusal(body(extra=10**40 + 1))  # 41 significant digits
    assert parse_acton_request(LEAD_ID, body(extra=10**40)).lead["extra"] == Decimal(10**40)
    assert "empty key" in refusal(body(extra={"": 1}))

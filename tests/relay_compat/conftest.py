"""Fixtures of the compatibility suite: one relay with the Twilio simulator, a
seeded dealer, and the original's request builders (its `faker/Lead.ts`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import httpx
import pytest

from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.support.relay import RelayHandle, Seed, issue_key, seed_dealer, start_relay

SIM_SID = "AC" + "4" * 32
SIM_TOKEN = "compat-token"
POOL = [f"+1{area}55504{i:02d}" for area in ("312", "415") for i in range(8)]
WEB2TEXT_NUMBER = "+13125550450"
STORE_NUMBER = "+13125550451"
TIMEOUT = 30.0

_phones = count(1000)


@pytest.fixture(scope="package")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="package")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, background=False)
    yield handle
    handle.stop()


@pytest.fixture(scope="package")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    """A retailer with one location; `seed.lead_key` plays the original's TEST_API_KEY."""
    return seed_dealer(
        relay, web2text_number=WEB2TEXT_NUMBER, store_number=STORE_NUMBER, pool=sim.pool
    )


@pytest.fixture(scope="package")
def key_with(relay: RelayHandle) -> Callable[[list[str]], str]:
    """A new API key authorized for `endpoints` (the original's APIKeyModel.create)."""
    return lambda endpoints: issue_key(relay, endpoints, description="E2E Test API Key")


def new_phone() -> str:
    return f"+1415555{next(_phones):04d}"


def new_id() -> str:
    return str(uuid.uuid4())


def lead_request(seed: Seed, **override: Any) -> dict[str, Any]:
    """The original's createRandomLeadRequest, for the seeded retailer and location
    (the original's Nexus mock accepted any id; the relay's directory does not)."""
    request: dict[str, Any] = {
        "SchemaVersion": "2.0.0",
        "UniversalRetailerId": seed.retailer_id,
        "LeadType": "WEB2TEXT",
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://floors.example/oak",
            "Name": "Jordan Example",
            "PhoneNumber": new_phone(),
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is the oak plank in stock?",
        },
    }
    request.update(override)
    return request


def acton_request(**override: Any) -> dict[str, Any]:
    """An ACTON create request (../shared/connectors.md §6), with passthrough keys."""
    request: dict[str, Any] = {
        "LeadType": "ACTON",
        "UniversalRetailerId": new_id(),
        "Lead": {
            "First Name": "Avery",
            "Last Name": "Form",
            "E-mail Address": "avery@example.com",
            "Home Postal Code": "60601",
            "preferred_location": "",
            "Home Phone": new_phone(),
            "formname": "Free samples",
            "optin": "yes",
            "listId": "l-123",
            "extra": {"rooms": 3, "area": 12.5, "tags": ["oak", None, True]},
        },
    }
    request.update(override)
    return request


def call(
    relay: RelayHandle,
    method: str,
    path: str,
    *,
    key: str | None = None,
    json: Any = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.request(
        method, relay.url + path, json=json, headers=headers, auth=auth, timeout=TIMEOUT
    )

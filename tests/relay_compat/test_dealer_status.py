"""Ported: DealerService/DealerStatus.e2e.test.ts ("DealerStatus E2E Tests"). The
original mocked Nexus; here the retailers and locations are in the relay's
directory, and the extra location fields (address, call tracking number) are
written to the location item as another company system would."""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.twilio_sim import SimHandle
from tests.relay_compat.conftest import call, new_id
from tests.support.relay import RelayHandle, Seed, seed_location, seed_retailer

TEXTABLE = '["mobile","nonFixedVoip","fixedVoip","personal"]'


def status_of(relay: RelayHandle, seed: Seed, retailer_id: str) -> dict[str, Any]:
    r = call(relay, "GET", f"/Dealer/{retailer_id}/status", key=seed.lead_key)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def nexus_fields(relay: RelayHandle, location_id: str, nexus_id: str) -> None:
    relay.tables.directory.update_item(
        Key={"Id": location_id},
        UpdateExpression=(
            "SET NexusLocationId = :nid, StreetAddress = :street, City = :city, "
            "#st = :state, ZipCode = :zip, CallTrackingPhoneNumber = :calls"
        ),
        ExpressionAttributeNames={"#st": "State"},
        ExpressionAttributeValues={
            ":nid": nexus_id,
            ":street": "123 Test St",
            ":city": "Test City",
            ":state": "CA",
            ":zip": "12345",
            ":calls": "(312) 555-0470",
        },
    )


def test_should_return_valid_status_for_a_valid_dealer_with_valid_locations(
    relay: RelayHandle, seed: Seed
) -> None:
    retailer = seed_retailer(relay, name="Test Client")
    location = seed_location(
        relay, retailer, "+13125550471", name="Test Store", store_number="+13125550472"
    )
    nexus_fields(relay, location, "nexus-1")
    assert status_of(relay, seed, retailer) == {
        "Status": "VALID",
        "Locations": [
            {
                "CallTrackingPhoneNumber": "+13125550470",
                "City": "Test City",
                "Name": "Test Store",
                "NexusLocationId": "nexus-1",
                "State": "CA",
                "Status": "VALID",
                "StorePhoneNumber": "+13125550472",
                "StreetAddress": "123 Test St",
                "UniversalLocationId": location,
                "Web2TextPhoneNumber": "+13125550471",
                "ZipCode": "12345",
            }
        ],
    }


def test_should_return_invalid_status_for_a_churned_dealer(relay: RelayHandle, seed: Seed) -> None:
    retailer = seed_retailer(relay, status="Churned_Customer")
    assert status_of(relay, seed, retailer) == {
        "Status": "INVALID",
        "Reason": "Nexus has flagged this retailer as a churned customer",
    }


def test_should_return_invalid_status_for_a_dealer_opted_out_of_web2text(
    relay: RelayHandle, seed: Seed
) -> None:
    retailer = seed_retailer(relay, web2text_opt_out=True)
    assert status_of(relay, seed, retailer) == {
        "Status": "INVALID",
        "Reason": "Retailer is opted out of Web2Text",
    }


def test_should_return_nonexistant_status_for_a_non_existent_dealer(
    relay: RelayHandle, seed: Seed
) -> None:
    assert status_of(relay, seed, new_id()) == {
        "Status": "NONEXISTANT",
        "Reason": "Could not find client with this UniversalRetailerId in Nexus",
    }


def test_should_handle_invalid_locations_for_a_valid_dealer(
    relay: RelayHandle, seed: Seed
) -> None:
    retailer = seed_retailer(relay, name="Test Client")
    location = seed_location(
        relay, retailer, "invalid", name="Test Store", store_number="+13125550472"
    )
    nexus_fields(relay, location, location)
    assert status_of(relay, seed, retailer) == {
        "Status": "VALID",
        "Locations": [
            {
                "NexusLocationId": location,
                "UniversalLocationId": location,
                "ZipCode": "12345",
                "Name": "Test Store",
                "StreetAddress": "123 Test St",
                "Status": "INVALID",
                "CallTrackingPhoneNumber": "+13125550470",
                "City": "Test City",
                "State": "CA",
                "StorePhoneNumber": "+13125550472",
                "Reason": "Location's phone number cannot be parsed: 'invalid'",
            }
        ],
    }


def test_should_return_400_for_invalid_universal_retailer_id(
    relay: RelayHandle, seed: Seed
) -> None:
    r = call(relay, "GET", "/Dealer/invalid-uuid/status", key=seed.lead_key)
    assert r.status_code == 400 and r.json()["reason"] == "invalid_field", r.text


# ---- beyond the original's cases: each location's number goes through Lookup


@pytest.mark.parametrize(
    ("line_type", "reason"),
    [
        (
            "landline",
            "Twilio lookup reported this number as type 'landline' which is outside the "
            f"allowed types of phone numbers: {TEXTABLE}",
        ),
        ("invalid", "Twilio lookup reported this number as invalid - [INVALID_BUT_POSSIBLE]"),
    ],
)
def test_a_location_whose_number_lookup_refuses_is_invalid(
    relay: RelayHandle, sim: SimHandle, seed: Seed, line_type: str, reason: str
) -> None:
    retailer = seed_retailer(relay)
    number = "+13125550473" if line_type == "landline" else "+13125550474"
    sim.set_line_types({number: line_type})
    location = seed_location(relay, retailer, number, name="Lookup Store")
    (entry,) = status_of(relay, seed, retailer)["Locations"]
    assert entry == {
        "NexusLocationId": location,
        "UniversalLocationId": location,
        "Name": "Lookup Store",
        "Web2TextPhoneNumber": number,
        "Status": "INVALID",
        "Reason": reason,
    }


def test_a_location_without_a_web2text_number_is_invalid(relay: RelayHandle, seed: Seed) -> None:
    retailer = seed_retailer(relay)
    location = seed_location(relay, retailer, "+13125550475", name="No Number")
    relay.tables.directory.update_item(
        Key={"Id": location}, UpdateExpression="REMOVE Web2TextPhoneNumber"
    )
    (entry,) = status_of(relay, seed, retailer)["Locations"]
    assert entry["Status"] == "INVALID" and "Web2TextPhoneNumber" not in entry
    assert entry["Reason"] == "Location does not have a Web2Text phone number associated in Nexus"

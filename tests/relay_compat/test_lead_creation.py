"""Ported: LeadService/LeadCreation.e2e.test.ts ("Lead Creation"), its WEB2TEXT and
ACTON cases. An ACTON lead has no integration the relay runs yet (ActOn and
FloorForce are the connectors' work): it must never reach the Twilio one."""

from __future__ import annotations

import time
from typing import Any

from app.relay import lead_store
from app.sandbox.twilio_sim import SimHandle
from tests.relay_compat.conftest import acton_request, call, lead_request, new_id
from tests.support.relay import RelayHandle, Seed


def create(relay: RelayHandle, seed: Seed, lead_id: str, body: Any) -> Any:
    return call(relay, "POST", f"/Lead/{lead_id}/create", key=seed.lead_key, json=body)


def status(relay: RelayHandle, seed: Seed, lead_id: str) -> dict[str, Any]:
    r = call(relay, "GET", f"/Lead/{lead_id}/status", key=seed.lead_key)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def refused(r: Any, reason: str) -> str:
    assert r.status_code == 400 and r.json()["reason"] == reason, r.text
    message: str = r.json()["message"]
    return message


def nothing_stored(relay: RelayHandle, seed: Seed, lead_id: str) -> None:
    assert status(relay, seed, lead_id) == {"Status": "NONEXISTANT"}


def duplicate(relay: RelayHandle, seed: Seed, request: dict[str, Any]) -> None:
    lead_id = new_id()
    first = create(relay, seed, lead_id, request)
    assert first.status_code == 200, first.text
    again = create(relay, seed, lead_id, request)
    assert again.status_code == 409 and again.json()["reason"] == "lead_exists", again.text
    assert again.json()["message"] == (
        f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'ACTIVE'"
    )
    assert status(relay, seed, lead_id) == first.json()


# --------------------------------------------------------------------------- WEB2TEXT


def test_successful_web2text_lead_creation(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = lead_request(seed, SyncImmediately=False)
    r = create(relay, seed, lead_id, request)
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["Status"] == "ACTIVE" and state["LeadId"] == lead_id
    assert state["LeadType"] == "WEB2TEXT" and state["SchemaVersion"] == "2.0.0"
    assert state["Lead"]["PhoneNumber"] == request["Lead"]["PhoneNumber"]
    assert list(state["Integrations"]) == ["Twilio"]
    assert state["Integrations"]["Twilio"]["SyncStatus"] == "NOT SYNCED"
    assert status(relay, seed, lead_id) == state


def test_web2text_lead_creation_with_invalid_universal_retailer_id(
    relay: RelayHandle, seed: Seed
) -> None:
    lead_id = new_id()
    request = lead_request(seed, SyncImmediately=False, UniversalRetailerId="invalid-uuid")
    message = refused(create(relay, seed, lead_id, request), "invalid_field")
    assert message == "UniversalRetailerId is INVALID - not a valid UUID"
    nothing_stored(relay, seed, lead_id)


def test_web2text_lead_creation_with_invalid_location_id(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = lead_request(seed, SyncImmediately=False)
    request["Lead"]["LocationId"] = "00000000-0000-0000-0000-000000000000"
    message = refused(create(relay, seed, lead_id, request), "unknown_location")
    assert message == "Location is NONEXISTANT - Could not find location with this Id in Nexus"
    nothing_stored(relay, seed, lead_id)


def test_web2text_lead_creation_with_invalid_phone_number(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = lead_request(seed, SyncImmediately=False)
    request["Lead"]["PhoneNumber"] = "invalid-phone"
    assert refused(create(relay, seed, lead_id, request), "invalid_phone").startswith(
        "PhoneNumber is INVALID - "
    )
    nothing_stored(relay, seed, lead_id)


def test_web2text_lead_creation_with_missing_required_fields(
    relay: RelayHandle, seed: Seed
) -> None:
    lead_id = new_id()
    request = lead_request(seed, SyncImmediately=False)
    incomplete = {
        "UniversalRetailerId": request["UniversalRetailerId"],
        "Lead": {
            "LocationId": request["Lead"]["LocationId"],
            "PageUrl": request["Lead"]["PageUrl"],
            "IPAddress": "203.0.113.7",
        },
    }
    assert refused(create(relay, seed, lead_id, incomplete), "invalid_field").endswith(
        "is NONEXISTANT - required"
    )
    nothing_stored(relay, seed, lead_id)


def test_duplicate_web2text_lead_creation(relay: RelayHandle, seed: Seed) -> None:
    duplicate(relay, seed, lead_request(seed, SyncImmediately=False))


# --------------------------------------------------------------------------- ACTON


def test_successful_acton_lead_creation(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = acton_request(SyncImmediately=False)
    r = create(relay, seed, lead_id, request)
    assert r.status_code == 200, r.text
    state = r.json()
    assert state == {
        "LeadId": lead_id,
        "LeadType": "ACTON",
        "Status": "ACTIVE",
        "SchemaVersion": "2.0.0",
        "UniversalRetailerId": request["UniversalRetailerId"],
        "Lead": request["Lead"],  # every key kept as sent, passthrough ones included
        "DateSubmitted": state["DateSubmitted"],
        "Integrations": {},
    }
    assert status(relay, seed, lead_id) == state


def test_acton_lead_creation_with_immediate_sync(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    lead_id = new_id()
    request = acton_request(SyncImmediately=True)
    r = create(relay, seed, lead_id, request)
    assert r.status_code == 200 and r.json()["Status"] == "ACTIVE", r.text
    # The original answered SYNCING while ActOn and FloorForce ran; the relay has no
    # ACTON integration yet, so its sync ends at once, and never through Twilio.
    deadline = time.monotonic() + 15
    while (lead_store.get_lead(relay.tables, lead_id) or {}).get("PendingShard"):
        assert time.monotonic() < deadline, "the ACTON lead's sync never ended"
        time.sleep(0.05)
    state = status(relay, seed, lead_id)
    assert state["Status"] == "ACTIVE" and state["Integrations"] == {}, state
    home_phone = request["Lead"]["Home Phone"]
    sim.wait_idle()
    assert sim.handset(home_phone) == []
    with sim.state.lock:
        assert not [
            c
            for c in sim.state.list_conversations()
            if any(p.address == home_phone for p in c.participants.values())
        ]


def test_acton_lead_creation_with_missing_required_fields(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = acton_request(SyncImmediately=False)
    del request["Lead"]["First Name"], request["Lead"]["Last Name"]
    message = refused(create(relay, seed, lead_id, request), "invalid_field")
    assert message == "Lead.First Name is NONEXISTANT - required"
    nothing_stored(relay, seed, lead_id)


def test_acton_lead_creation_with_invalid_email(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = acton_request(SyncImmediately=False)
    request["Lead"]["E-mail Address"] = "invalid-email"
    message = refused(create(relay, seed, lead_id, request), "invalid_field")
    assert message == "Lead.E-mail Address is INVALID - not a valid e-mail address"
    nothing_stored(relay, seed, lead_id)


def test_acton_lead_creation_with_missing_postal_code(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = acton_request(SyncImmediately=False)
    del request["Lead"]["Home Postal Code"]
    message = refused(create(relay, seed, lead_id, request), "invalid_field")
    assert message == "Lead.Home Postal Code is NONEXISTANT - required"
    nothing_stored(relay, seed, lead_id)


def test_duplicate_acton_lead_creation(relay: RelayHandle, seed: Seed) -> None:
    duplicate(relay, seed, acton_request(SyncImmediately=False))


def test_acton_lead_with_invalid_universal_retailer_id(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    request = acton_request(SyncImmediately=False, UniversalRetailerId="invalid-uuid")
    message = refused(create(relay, seed, lead_id, request), "invalid_field")
    assert message == "UniversalRetailerId is INVALID - not a valid UUID"
    nothing_stored(relay, seed, lead_id)

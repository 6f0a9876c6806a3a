"""Ported: LeadService/LeadClose.e2e.test.ts ("Lead Close E2E Tests"). The original
mocked Twilio with canned answers; here the lead really syncs through the
simulator before it is closed."""

from __future__ import annotations

from typing import Any

from app.sandbox.twilio_sim import SimHandle
from tests.relay_compat.conftest import WEB2TEXT_NUMBER, call, lead_request, new_id
from tests.support.relay import RelayHandle, Seed


def created(relay: RelayHandle, seed: Seed) -> tuple[str, dict[str, Any]]:
    lead_id = new_id()
    request = lead_request(seed, SyncImmediately=False)
    r = call(relay, "POST", f"/Lead/{lead_id}/create", key=seed.lead_key, json=request)
    assert r.status_code == 200, r.text
    return lead_id, request


def close(relay: RelayHandle, seed: Seed, lead_id: str, reason: str) -> dict[str, Any]:
    r = call(relay, "POST", f"/Lead/{lead_id}/close", key=seed.lead_key, json={"reason": reason})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_should_close_a_lead_successfully(relay: RelayHandle, seed: Seed) -> None:
    lead_id, _ = created(relay, seed)
    closed = close(relay, seed, lead_id, "Test close reason")
    assert closed["LeadId"] == lead_id
    assert closed["Status"] == "CLOSED" and closed["CloseReason"] == "Test close reason"
    # fixed fault kept: an integration never synced ends CLOSED too (the original
    # left it NOT SYNCED)
    assert closed["Integrations"]["Twilio"]["SyncStatus"] == "CLOSED"


def test_should_successfully_close_integrations_on_lead_close(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    lead_id, request = created(relay, seed)
    phone = request["Lead"]["PhoneNumber"]
    r = call(relay, "POST", f"/Lead/{lead_id}/sync", key=seed.lead_key)
    assert r.status_code == 200, r.text
    assert r.json()["Integrations"]["Twilio"]["SyncStatus"] == "SYNCED"
    closed = close(relay, seed, lead_id, "Test close reason")
    assert closed["LeadId"] == lead_id
    assert closed["Status"] == "CLOSED" and closed["CloseReason"] == "Test close reason"
    assert list(closed["Integrations"]) == ["Twilio"]
    for state in closed["Integrations"].values():
        assert state["SyncStatus"] == "CLOSED"
    sid = closed["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    assert closed["Integrations"]["Twilio"]["Data"]["ConversationStatus"] == "closed"
    sim.wait_idle()
    with sim.state.lock:
        assert sim.state.conversations[sid].state == "closed"
    # the customer got the greeting before the close, and nothing after it
    assert [m["body"].startswith("Hi Jordan") for m in sim.handset(phone)] == [True]
    # the store was told of the lead, then of its close
    store_texts = [m["body"] for m in sim.handset(WEB2TEXT_NUMBER)]
    assert any(request["Lead"]["CustomerMessage"] in b for b in store_texts)
    assert any("this lead was closed (Test close reason)" in b for b in store_texts)


def test_should_return_409_when_trying_to_close_a_non_existent_lead(
    relay: RelayHandle, seed: Seed
) -> None:
    lead_id = new_id()
    r = call(
        relay,
        "POST",
        f"/Lead/{lead_id}/close",
        key=seed.lead_key,
        json={"reason": "Test close reason"},
    )
    assert r.status_code == 409 and r.json()["reason"] == "lead_not_found", r.text
    assert r.json()["message"] == (
        f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'NONEXISTANT'"
    )


def test_should_return_409_when_trying_to_sync_a_non_existent_lead(
    relay: RelayHandle, seed: Seed
) -> None:
    lead_id = new_id()
    r = call(relay, "POST", f"/Lead/{lead_id}/sync", key=seed.lead_key)
    assert r.status_code == 409 and r.json()["reason"] == "lead_not_found", r.text
    assert r.json()["message"] == (
        f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'NONEXISTANT'"
    )

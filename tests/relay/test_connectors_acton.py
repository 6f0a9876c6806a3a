"""ACTON form leads through Act-On then FloorForce (the lead-systems simulator):
the token per post, the record without `listId`, the whole lead as a form, each
retried on a later sync when it failed, and never posted twice for one lead."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.relay import lead_store
from app.relay.connectors.progress import unconfirmed
from app.sandbox.lead_systems_sim import LeadSystemsHandle
from tests.relay.connector_helpers import connected_relay, status, wait_for, wait_status
from tests.support.relay import RelayHandle, Seed, issue_key


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, _lead_systems_server: LeadSystemsHandle) -> Iterator[RelayHandle]:
    with connected_relay(dynamodb_endpoint, None, _lead_systems_server) as handle:
        yield handle


@pytest.fixture(scope="module")
def seed(relay: RelayHandle) -> Seed:
    key = issue_key(relay, ["*"])
    return Seed(str(uuid.uuid4()), "", "", key, "", "")


def form_lead(**extra: Any) -> dict[str, Any]:
    return {
        "First Name": "Pat",
        "Last Name": "Doe",
        "E-mail Address": "pat@example.com",
        "Home Postal Code": "28052",
        "preferred_location": "Gastonia",
        "optin": "yes",
        "listId": "l_42",
        "rooms": 3,  # not declared: passed through as it came
        "extra": {"color": "oak"},
        **extra,
    }


def create_acton(relay: RelayHandle, seed: Seed, lead: dict[str, Any]) -> str:
    lead_id = str(uuid.uuid4())
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/create",
        headers={"Authorization": seed.lead_key},
        json={"LeadType": "ACTON", "UniversalRetailerId": seed.retailer_id, "Lead": lead},
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return lead_id


def records(lead_systems: LeadSystemsHandle, email: str) -> list[dict[str, Any]]:
    everything = lead_systems.state.acton.snapshot()
    return [r for rs in everything.values() for r in rs if r.get("E-mail Address") == email]


def posts(lead_systems: LeadSystemsHandle, email: str) -> list[dict[str, str]]:
    return [p for p in lead_systems.state.floorforce.snapshot() if p["E-mail Address"] == email]


def settled(relay: RelayHandle, lead_id: str) -> bool:
    return (lead_store.get_lead(relay.tables, lead_id) or {}).get("PendingShard") is None


def sync(relay: RelayHandle, seed: Seed, lead_id: str) -> None:
    r = httpx.post(relay.url + f"/Lead/{lead_id}/sync", headers={"Authorization": seed.lead_key})
    assert r.status_code == 200, r.text


def test_a_form_lead_goes_to_acton_then_floorforce(
    relay: RelayHandle, seed: Seed, lead_systems: LeadSystemsHandle
) -> None:
    lead_id = create_acton(relay, seed, form_lead())
    acton = wait_status(relay, seed, lead_id, "ActOn", "SYNCED")
    floorforce = wait_status(relay, seed, lead_id, "FloorForce", "SYNCED")
    assert "Data" not in acton and "Data" not in floorforce  # none, as the original
    state = status(relay, seed, lead_id)
    assert set(state["Integrations"]) == {"ActOn", "FloorForce"}  # no Twilio, RLM, DHQ
    [record] = lead_systems.state.acton.snapshot()["l_42"]
    assert record == {k: v for k, v in form_lead().items() if k != "listId"}
    token = [r for r in lead_systems.received("acton") if r["path"] == "/acton/token"]
    assert len(token) == 1 and token[0]["body"]["grant_type"] == "password"
    assert token[0]["content_type"] == "application/x-www-form-urlencoded"
    [post] = posts(lead_systems, "pat@example.com")
    assert post["listId"] == "l_42" and post["rooms"] == "3"
    assert json.loads(post["extra"]) == {"color": "oak"}  # not "[object Object]"
    assert post["First Name"] == "Pat" and post["optin"] == "yes"


def test_each_failure_is_retried_on_a_later_sync_once(
    relay: RelayHandle, seed: Seed, lead_systems: LeadSystemsHandle
) -> None:
    lead_systems.set_faults(
        {
            "acton": {"fail_next": 1, "fail_status": 400},  # the token refused
            "floorforce": {"fail_next": 1, "fail_status": 422},
        }
    )
    email = "retry@example.com"
    lead_id = create_acton(relay, seed, form_lead(**{"E-mail Address": email}))
    acton = wait_status(relay, seed, lead_id, "ActOn", "ERROR")
    floorforce = wait_status(relay, seed, lead_id, "FloorForce", "ERROR")  # ran all the same
    assert acton["ErrorInfo"]["Message"] == "Failed to create ActOn Lead"
    assert floorforce["ErrorInfo"]["Message"] == "Failed to create FloorForce Lead"
    assert floorforce["ErrorInfo"]["Details"]["Response"]["Status"] == 422
    assert records(lead_systems, email) == [] and posts(lead_systems, email) == []
    wait_for(lambda: settled(relay, lead_id), what="the pass")
    sync(relay, seed, lead_id)
    wait_status(relay, seed, lead_id, "ActOn", "SYNCED")
    wait_status(relay, seed, lead_id, "FloorForce", "SYNCED")
    sync(relay, seed, lead_id)  # done: nothing posted again
    wait_for(lambda: settled(relay, lead_id), what="the second sync")
    assert len(records(lead_systems, email)) == 1 and len(posts(lead_systems, email)) == 1


def test_a_post_whose_answer_was_lost_is_never_posted_again(
    relay: RelayHandle, seed: Seed, lead_systems: LeadSystemsHandle
) -> None:
    lead_systems.set_faults(
        {"acton": {"rate_timeout_after_commit": 1.0, "path_contains": "/record"}}
    )
    email = "lost@example.com"
    lead_id = create_acton(relay, seed, form_lead(**{"E-mail Address": email}))
    acton = wait_status(relay, seed, lead_id, "ActOn", "ERROR")
    lead_systems.set_faults({})
    assert "answer was lost" in acton["ErrorInfo"]["Details"]["Response"]
    assert unconfirmed(lead_store.get_lead(relay.tables, lead_id) or {}, "ActOn") == ["create"]
    wait_for(lambda: settled(relay, lead_id), what="the pass")
    sync(relay, seed, lead_id)
    wait_for(lambda: settled(relay, lead_id), what="the sync")
    assert len(records(lead_systems, email)) == 1  # Act-On has it once; never re-posted
    assert status(relay, seed, lead_id)["Integrations"]["ActOn"]["SyncStatus"] == "ERROR"
    assert len(posts(lead_systems, email)) == 1


def test_a_lead_without_a_list_is_not_posted_to_list_undefined(
    relay: RelayHandle, seed: Seed, lead_systems: LeadSystemsHandle
) -> None:
    lead = form_lead(**{"E-mail Address": "nolist@example.com"})
    del lead["listId"]
    lead_id = create_acton(relay, seed, lead)
    acton = wait_status(relay, seed, lead_id, "ActOn", "ERROR")
    assert acton["ErrorInfo"]["Details"]["Response"] == "the lead has no listId"
    assert not [r for r in lead_systems.received("acton") if "undefined" in r["path"]]
    wait_status(relay, seed, lead_id, "FloorForce", "SYNCED")

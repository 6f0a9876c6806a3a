"""Conversations staff start (`POST /v1/leads`), colleagues (`GET /v1/staff`) and
closing (`POST /v1/leads/{id}/close`): real relays on DynamoDB Local, the Twilio
simulator driven through the twilio SDK."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from app.relay import auth
from app.sandbox.twilio_sim import SimHandle
from tests.relay_desk.helpers import (
    STORE_PHONE,
    chicago_night,
    conversation_of,
    current_lead,
    headers,
    lead_status,
    new_lead,
    new_phone,
    send,
    texts,
    wait_for,
)
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_staff_key,
    seed_dealer,
    seed_location,
    seed_retailer,
    start_relay,
    tables_for,
)

pytestmark = pytest.mark.dynamodb


# --------------------------------------------------------------------------- new lead


def test_staff_lead_texts_nobody_until_the_first_staff_text(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    r = new_lead(relay, seed.staff_key, seed.location_id, phone, name="Lee Walker", note="Walk-in")
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["source"] == "staff" and lead["customer"]["phone"] == phone
    assert lead["customer"]["name"] == "Lee Walker" and lead["customer"]["message"] == ""
    assert [n["body"] for n in lead["notes"]] == ["Walk-in"]
    assert lead["assigneeId"] == seed.staff_id  # whoever starts it answers it
    assert lead["activity"][0]["text"] == "Sam Staff started this conversation"
    state = lead_status(relay, seed.lead_key, lead["leadId"])
    assert state["Lead"]["Source"] == "staff" and state["Status"] == "ACTIVE"
    sid = conversation_of(relay, seed.lead_key, lead["leadId"])
    sim.wait_idle()
    assert texts(sim, phone) == [] and texts(sim, STORE_PHONE) == []  # no greeting, no details
    first = send(relay, seed.staff_key, sid, "Hi Lee, it's Sam from the store.")
    assert first.status_code == 202, first.text
    wait_for(lambda: texts(sim, phone), what="the first text")
    assert texts(sim, phone) == ["Hi Lee, it's Sam from the store."]


def test_same_idempotency_key_answers_the_first_lead(relay: RelayHandle, seed: Seed) -> None:
    phone, key, lead_id = new_phone(), "k-" + uuid.uuid4().hex, str(uuid.uuid4())
    first = new_lead(relay, seed.staff_key, seed.location_id, phone, idem=key, lead_id=lead_id)
    again = new_lead(relay, seed.staff_key, seed.location_id, phone, idem=key, lead_id=lead_id)
    assert first.status_code == again.status_code == 201
    assert first.json()["leadId"] == again.json()["leadId"] == lead_id
    assert again.headers["idempotent-replayed"] == "true"
    # the desktop's lead id: another request naming it is refused like the website's
    other = new_lead(relay, seed.staff_key, seed.location_id, new_phone(), lead_id=lead_id)
    assert other.status_code == 409 and other.json()["reason"] == "lead_exists"


def test_staff_lead_runs_the_website_create_checks(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    opted = new_phone()
    relay.tables.optouts.put_item(
        Item={"PhoneNumber": opted, "OptedOutNumbers": {sim.pool[0]: {"DateOptedOut": "x"}}}
    )
    landline = new_phone()
    httpx.post(f"{sim.url}/_sim/lookup", json={landline: "landline"})
    cases = [
        (opted, 400, "recipient_opted_out"),
        (landline, 400, "line_type"),
        (STORE_PHONE, 400, "same_as_store_number"),
        ("+447911123456", 400, "country_not_allowed"),
        ("555 01", 400, "invalid_phone"),
    ]
    for phone, status, reason in cases:
        r = new_lead(relay, seed.staff_key, seed.location_id, phone)
        assert (r.status_code, r.json()["reason"]) == (status, reason), (phone, r.text)


def test_staff_lead_input_and_scope(relay: RelayHandle, seed: Seed) -> None:
    other_retailer = seed_retailer(relay)
    elsewhere = seed_location(relay, other_retailer, "+13125550155")
    r = new_lead(relay, seed.staff_key, elsewhere, new_phone())
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    bad = [
        ({"name": "A", "phone": new_phone()}, "invalid_field"),  # no location
        ({"locationId": seed.location_id, "phone": new_phone()}, "invalid_field"),
        (
            {"locationId": seed.location_id, "name": "A\u202eB", "phone": new_phone()},
            "invalid_field",
        ),
        (
            {"locationId": seed.location_id, "name": "A", "phone": new_phone(), "x": 1},
            "invalid_request",
        ),
    ]
    for body, reason in bad:
        r = httpx.post(
            f"{relay.url}/v1/leads", json=body, headers=headers(seed.staff_key, "k-bad"), timeout=10
        )
        assert r.status_code == 400 and r.json()["reason"] == reason, (body, r.text)
    no_key = httpx.post(
        f"{relay.url}/v1/leads",
        json={"locationId": seed.location_id, "name": "A", "phone": new_phone()},
        headers=headers(seed.staff_key),
        timeout=10,
    )
    assert no_key.status_code == 400 and no_key.json()["reason"] == "idempotency_key_required"
    lead_key_only = new_lead(relay, seed.lead_key, seed.location_id, new_phone())
    assert lead_key_only.status_code == 403


def test_a_phone_gets_only_so_many_new_leads(dynamodb_endpoint: str, sim: SimHandle) -> None:
    handle = start_relay(dynamodb_endpoint, sim, background=False, phone_leads_per_day=2)
    try:
        seed = seed_dealer(handle, web2text_number="+13125550144", pool=sim.pool)
        phone = new_phone()
        statuses = [new_lead(handle, seed.staff_key, seed.location_id, phone) for _ in range(3)]
        assert [r.status_code for r in statuses] == [201, 201, 429]
        assert statuses[-1].json()["reason"] == "too_many_leads_for_phone"
    finally:
        handle.stop()


def test_quiet_hours_apply_to_the_first_staff_text(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    """The staff member made the lead, the customer did not write: no 24 h exemption."""
    lead = new_lead(relay, seed.staff_key, seed.location_id, new_phone()).json()
    sid = conversation_of(relay, seed.lead_key, lead["leadId"])
    day, night = relay.ctx.clock, chicago_night()
    relay.ctx.clock = night.timestamp  # 3 or 4 AM for the customer (312)
    try:
        r = send(relay, seed.staff_key, sid, "Are you still looking?")
    finally:
        relay.ctx.clock = day
    assert r.status_code == 422 and r.json()["reason"] == "quiet_hours", r.text
    allowed = datetime.fromisoformat(r.json()["nextAllowedAt"].replace("Z", "+00:00"))
    assert allowed - night in (timedelta(hours=4), timedelta(hours=5))  # 08:00 there


# --------------------------------------------------------------------------- colleagues


def test_staff_lists_colleagues_of_the_callers_locations(relay: RelayHandle) -> None:
    retailer = seed_retailer(relay)
    north = seed_location(relay, retailer, "+13125550122", name="North")
    south = seed_location(relay, retailer, "+13125550121", name="South")
    dana = issue_staff_key(relay, retailer, [north], staff_id="dana", name="Dana Diaz")
    issue_staff_key(relay, retailer, [north, south], staff_id="ann", name="Ann Ames")
    issue_staff_key(relay, retailer, [south], staff_id="bob", name="Bob Burns")
    other = seed_retailer(relay)
    issue_staff_key(relay, other, [seed_location(relay, other, "+13125550120")], staff_id="eve")
    r = httpx.get(f"{relay.url}/v1/staff", headers=headers(dana), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"staffId": "ann", "name": "Ann Ames", "locationIds": [north]},
        {"staffId": "dana", "name": "Dana Diaz", "locationIds": [north]},
    ]
    # a revoked key: its holder is gone from the list (no other key left)
    ann_key = issue_staff_key(relay, retailer, [north], staff_id="ann2", name="Ann Two")
    assert auth.revoke_key(tables_for(relay), ann_key)
    ids = [m["staffId"] for m in httpx.get(f"{relay.url}/v1/staff", headers=headers(dana)).json()]
    assert ids == ["ann", "dana"]


def test_a_key_issued_before_the_registry_registers_on_first_use(relay: RelayHandle) -> None:
    retailer = seed_retailer(relay)
    loc = seed_location(relay, retailer, "+13125550119")
    old = issue_staff_key(relay, retailer, [loc], staff_id="old", name="Olga Old")
    relay.tables.directory.delete_item(Key={"Id": f"STAFF#{retailer}#old"})
    r = httpx.get(f"{relay.url}/v1/staff", headers=headers(old), timeout=10)
    assert [m["staffId"] for m in r.json()] == ["old"]


def test_assigning_a_colleague_names_them(relay: RelayHandle, seed: Seed) -> None:
    issue_staff_key(relay, seed.retailer_id, [seed.location_id], staff_id="kim", name="Kim Ko")
    made = new_lead(relay, seed.staff_key, seed.location_id, new_phone()).json()
    conversation_of(relay, seed.lead_key, made["leadId"])  # its processing is done
    lead = current_lead(relay, seed.staff_key, made["leadId"])
    r = httpx.patch(
        f"{relay.url}/v1/leads/{lead['leadId']}",
        json={"assigneeId": "kim"},
        headers=headers(seed.staff_key, **{"If-Match": f'"{lead["version"]}"'}),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["assigneeName"] == "Kim Ko"
    assert r.json()["activity"][-1]["text"] == "Sam Staff assigned Kim Ko"


# --------------------------------------------------------------------------- close


def _close(
    relay: RelayHandle, key: str, lead_id: str, version: int, reason: str, idem: str | None = None
) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/leads/{lead_id}/close",
        json={"reason": reason},
        headers=headers(key, idem, **{"If-Match": f'"{version}"'}),
        timeout=30,
    )


def test_close_with_a_reason_closes_as_lead_close_does(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    lead = new_lead(relay, seed.staff_key, seed.location_id, new_phone()).json()
    sid = conversation_of(relay, seed.lead_key, lead["leadId"])
    current = lead_status(relay, seed.lead_key, lead["leadId"])
    stale = _close(relay, seed.staff_key, lead["leadId"], lead["version"], "Bought elsewhere")
    assert stale.status_code == 412 and stale.json()["reason"] == "version_conflict"
    version = stale.json()["current"]["version"]
    r = _close(relay, seed.staff_key, lead["leadId"], version, "Bought elsewhere", idem="k-c")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["status"] == "CLOSED" and closed["closeReason"] == "Bought elsewhere"
    state = lead_status(relay, seed.lead_key, lead["leadId"])
    assert state["Status"] == "CLOSED" and state["CloseReason"] == "Bought elsewhere"
    assert state["Integrations"]["Twilio"]["SyncStatus"] == "CLOSED"
    assert current["Status"] == "ACTIVE"
    # its conversation closed with it (its only lead): a send is refused
    refused = send(relay, seed.staff_key, sid, "one more thing")
    assert refused.status_code == 409 and refused.json()["reason"] == "conversation_closed"
    # the same key again: the first answer
    again = _close(relay, seed.staff_key, lead["leadId"], version, "Bought elsewhere", idem="k-c")
    assert again.status_code == 200 and again.json() == closed


def test_close_needs_if_match_and_a_reason(relay: RelayHandle, seed: Seed) -> None:
    lead = new_lead(relay, seed.staff_key, seed.location_id, new_phone()).json()
    url = f"{relay.url}/v1/leads/{lead['leadId']}/close"
    no_match = httpx.post(url, json={"reason": "x"}, headers=headers(seed.staff_key), timeout=10)
    assert no_match.status_code == 428
    no_reason = _close(relay, seed.staff_key, lead["leadId"], lead["version"], "  ")
    assert no_reason.status_code == 400
    long = _close(relay, seed.staff_key, lead["leadId"], lead["version"], "x" * 501)
    assert long.status_code == 422 and long.json()["reason"] == "reason_too_long"
    other = issue_staff_key(relay, seed_retailer(relay), [], staff_id="stranger")
    assert _close(relay, other, lead["leadId"], lead["version"], "x").status_code == 403
    unknown = _close(relay, seed.staff_key, str(uuid.uuid4()), 1, "x")
    assert unknown.status_code == 404

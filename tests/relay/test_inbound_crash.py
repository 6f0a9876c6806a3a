"""Crash injection on a text that reopens a closed thread: the real `web2text-relay
serve` process is killed at each step of its routing (`crash_at`), restarted, and
finishes by itself: one new lead, one details text to the store, the customer's text
once in the new conversation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.relay import lead_store, message_store
from app.relay.inbound.routing import inbound_lead_id
from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import POOL, SIM_TOKEN, wait_for
from tests.support.relay import Seed, init_tables, new_prefix, seed_dealer, tables_for
from tests.support.relay_process import RelayProcess, relay_env

SIM_SID = "AC" + "9" * 32
STEPS = ["after_inbound_stored", "after_inbound_lead", "before_inbound_text", "after_inbound_text"]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


def _env(prefix: str, endpoint: str, sim: SimHandle, port: int) -> dict[str, str]:
    return relay_env(
        W2T_TABLE_PREFIX=prefix,
        W2T_DYNAMODB_ENDPOINT=endpoint,
        TWILIO_ACCOUNT_SID=SIM_SID,
        TWILIO_AUTH_TOKEN=SIM_TOKEN,
        W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=f"http://127.0.0.1:{port}",
        W2T_STUCK_AFTER="2",
        W2T_SWEEPER_INTERVAL="0.5",
        W2T_RECONCILE_INTERVAL="3600",
    )


def _closed_thread(sim: SimHandle, seed: Seed, url: str, customer: str) -> str:
    """Make a lead for `customer`, close it, and return their pool number."""
    import uuid

    import httpx

    lead_id = str(uuid.uuid4())
    body = {
        "UniversalRetailerId": seed.retailer_id,
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://a.example",
            "Name": "Casey Return",
            "PhoneNumber": customer,
            "CustomerMessage": "hi",
        },
    }
    auth = {"Authorization": seed.lead_key}
    r = httpx.post(f"{url}/Lead/{lead_id}/create", headers=auth, json=body, timeout=30)
    assert r.status_code == 200, r.text

    def synced() -> str | None:
        state = httpx.get(f"{url}/Lead/{lead_id}/status", headers=auth, timeout=10).json()
        twilio = state["Integrations"]["Twilio"]
        return twilio["Data"].get("ConversationSID") if twilio["SyncStatus"] == "SYNCED" else None

    sid = wait_for(synced, what="first lead synced")
    closed = httpx.post(f"{url}/Lead/{lead_id}/close", headers=auth, json={}, timeout=30)
    assert closed.status_code == 200, closed.text
    conv = sim.state.get_conversation(sid)
    assert conv.state == "closed"
    return next(str(p.proxy_address) for p in conv.participants.values() if p.address == customer)


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_while_routing_a_text_loses_nothing_and_doubles_nothing(
    dynamodb_endpoint: str, sim: SimHandle, tmp_path: Path, step: str
) -> None:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    number = f"+1312555{int(time.time() * 1000) % 10000:04d}"
    seed = seed_dealer(settings, web2text_number=number, pool=POOL)
    port = free_port()
    env = _env(prefix, dynamodb_endpoint, sim, port)
    customer = f"+1415555{int(time.time() * 1000) % 10000:04d}"
    crashing = RelayProcess(env, port, tmp_path / "relay.log", crash_at=step)
    try:
        sim.set_webhook_url(crashing.url + "/TwilioWebhooks/onIncomingMessage")
        proxy = _closed_thread(sim, seed, crashing.url, customer)
        store_texts = len(sim.handset(number))
        sent = sim.inbound(customer, proxy, "Back again - is it on sale?")
        assert crashing.wait_exit() == 17  # died at the step
    finally:
        crashing.stop()
    lead_id = inbound_lead_id(sent["sid"])
    restarted = RelayProcess(env, port, tmp_path / "relay.log")
    try:
        tables = tables_for(settings)

        def synced() -> str | None:
            lead = lead_store.get_lead(tables, lead_id) or {}
            twilio = (lead.get("Integrations") or {}).get("Twilio") or {}
            assert twilio.get("SyncStatus") != "ERROR", twilio
            sid = (twilio.get("Data") or {}).get("ConversationSID")
            return str(sid) if twilio.get("SyncStatus") == "SYNCED" and sid else None

        sid = wait_for(synced, timeout=60, what="the routed lead synced")
        wait_for(
            lambda: len(sim.handset(number)) >= store_texts + 2, what="details and text to store"
        )
        sim.wait_idle()
        texts = [m["body"] for m in sim.handset(number)][store_texts:]
        assert texts == [texts[0], "Back again - is it on sale?"]
        assert texts[0].startswith("A customer texted in again")
        remote = [
            m for m in sim.state.list_messages(sid, None) if m.body == "Back again - is it on sale?"
        ]
        assert len(remote) == 1
        leads = [
            item
            for item in lead_store.leads_of_location(tables, seed.location_id)
            if item["Lead"]["PhoneNumber"] == customer
        ]
        assert len(leads) == 2  # the closed lead and the one the text made
        wait_for(
            lambda: any(
                m.get("AuthorKind") == "customer" for m in message_store.list_messages(tables, sid)
            ),
            what="the text stored as the customer's",
        )
    finally:
        restarted.stop()

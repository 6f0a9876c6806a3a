"""A relay process killed while it creates a lead, then the lead closed through
another instance: the close waits until the dead holder's lease runs out, takes
the lead over and closes it; the customer is never texted, a conversation the
dead process left half built is closed, its proxy numbers freed, and nothing is
resumed afterwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.relay import lead_store
from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.support.crashing_relay import CRASH_EXIT_CODE
from tests.support.relay import init_tables, new_prefix, seed_dealer, start_relay, tables_for
from tests.support.relay_process import RelayProcess, relay_env

SIM_SID = "AC" + "5" * 32
SIM_TOKEN = "close-crash-token"
POOL = [f"+1{a}55503{i:02d}" for a in ("312", "415") for i in range(6)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.mark.parametrize(
    "step",
    [
        "after_conversation_create",  # a conversation at Twilio, recorded nowhere yet
        "after_details",  # set up, the store told, the greeting not sent yet
    ],
)
def test_close_after_a_crash_mid_create_texts_nobody(
    dynamodb_endpoint: str, sim: SimHandle, tmp_path: Path, step: str
) -> None:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    number = f"+1312555{int(time.time() * 1000) % 10000:04d}"
    seed = seed_dealer(settings, web2text_number=number, pool=POOL)
    customer = f"+1415555{int(time.time() * 1000) % 10000:04d}"
    lead_id = str(uuid.uuid4())
    port = free_port()
    env = relay_env(
        W2T_TABLE_PREFIX=prefix,
        W2T_DYNAMODB_ENDPOINT=dynamodb_endpoint,
        TWILIO_ACCOUNT_SID=SIM_SID,
        TWILIO_AUTH_TOKEN=SIM_TOKEN,
        W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=f"http://127.0.0.1:{port}",
        W2T_STUCK_AFTER="2",
        W2T_BACKGROUND="0",
    )
    crashing = RelayProcess(env, port, tmp_path / "relay.log", crash_at=step)
    try:
        r = httpx.post(
            crashing.url + f"/Lead/{lead_id}/create",
            headers={"Authorization": seed.lead_key},
            json={
                "UniversalRetailerId": seed.retailer_id,
                "Lead": {
                    "LocationId": seed.location_id,
                    "PageUrl": "https://a.example",
                    "Name": "Casey Crash",
                    "PhoneNumber": customer,
                    "CustomerMessage": "hi",
                },
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert crashing.wait_exit() == CRASH_EXIT_CODE  # died at the step, holding the lead
    finally:
        crashing.stop()
    tables = tables_for(settings)
    held = lead_store.get_lead(tables, lead_id) or {}
    assert held.get("LockOwner") and held.get("PendingShard") == "P", held

    other = start_relay(
        dynamodb_endpoint,
        sim,
        prefix=prefix,
        background=False,
        register_inbound=False,
        stuck_after_s=2.0,
    )
    try:
        r = httpx.post(
            other.url + f"/Lead/{lead_id}/close",
            headers={"Authorization": seed.lead_key},
            json={"reason": "Changed mind"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        state = r.json()
        assert state["Status"] == "CLOSED" and state["CloseReason"] == "Changed mind"
        assert state["Integrations"]["Twilio"]["SyncStatus"] == "CLOSED", state
        assert other.ctx.leads.sweep() == 0  # nothing is left to resume
    finally:
        other.stop()
    sim.wait_idle()
    assert sim.handset(customer) == []  # not one text reached the customer
    with sim.state.lock:
        open_with_customer = [
            c
            for c in sim.state.list_conversations()
            if c.state != "closed" and any(p.address == customer for p in c.participants.values())
        ]
    assert open_with_customer == []
    # the conversation the dead process made (with or without its participants) is closed
    sid = state["Integrations"]["Twilio"]["Data"].get("ConversationSID")
    assert sid, state
    with sim.state.lock:
        assert sim.state.conversations[sid].state == "closed"
    bindings = tables.pool.query(
        KeyConditionExpression="Pk = :pk", ExpressionAttributeValues={":pk": f"BIND#{customer}"}
    )["Items"]
    assert bindings == []
    item = lead_store.get_lead(tables, lead_id) or {}
    assert not {"LockOwner", "PendingShard", "CloseRequested"} & set(item), item

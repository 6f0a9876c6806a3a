"""Crash injection: a real relay process is killed between two steps of a lead's
processing (`tests.support.crashing_relay`), restarted as `web2text-relay serve`,
and finishes the lead by itself: one conversation, one greeting, one
lead-details text."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.relay import conversation_store, lead_store, message_store, versioned
from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.support.crashing_relay import CRASH_EXIT_CODE
from tests.support.relay import init_tables, new_prefix, seed_dealer, tables_for
from tests.support.relay_process import RelayProcess, relay_env

SIM_SID = "AC" + "8" * 32
SIM_TOKEN = "crash-token"
POOL = [f"+1{a}55501{i:02d}" for a in ("312", "415") for i in range(6)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


STEPS = [
    "after_conversation_create",  # conversation exists at Twilio, nothing recorded yet
    "after_details",  # the store's text went out, not yet marked sent
]
SLOW_STEPS = [
    "before_conversation_create",
    "after_participant_customer",  # one participant added
    "before_details",
    "after_greeting",
]


_FULL = pytest.mark.skipif(
    not os.environ.get("W2T_RUN_SLOW"), reason="full crash matrix: set W2T_RUN_SLOW=1"
)


@pytest.mark.parametrize(
    "step", STEPS + [pytest.param(s, marks=[pytest.mark.slow, _FULL]) for s in SLOW_STEPS]
)
def test_crash_between_steps_resumes_exactly_once(
    dynamodb_endpoint: str, sim: SimHandle, tmp_path: Path, step: str
) -> None:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    number = f"+1312555{int(time.time() * 1000) % 10000:04d}"
    seed = seed_dealer(settings, web2text_number=number, pool=POOL)
    port = free_port()
    env = relay_env(
        W2T_TABLE_PREFIX=prefix,
        W2T_DYNAMODB_ENDPOINT=dynamodb_endpoint,
        TWILIO_ACCOUNT_SID=SIM_SID,
        TWILIO_AUTH_TOKEN=SIM_TOKEN,
        W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=f"http://127.0.0.1:{port}",
        W2T_STUCK_AFTER="2",
        W2T_SWEEPER_INTERVAL="0.5",
        W2T_RECONCILE_INTERVAL="3600",
    )
    customer = f"+1415555{int(time.time() * 1000) % 10000:04d}"
    lead_id = str(uuid.uuid4())
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
        assert crashing.wait_exit() == CRASH_EXIT_CODE  # died at the step
    finally:
        crashing.stop()
    item = lead_store.get_lead(tables_for(settings), lead_id)
    assert item is not None and item["Integrations"]["Twilio"]["SyncStatus"] == "NOT SYNCED"

    restarted = RelayProcess(env, port, tmp_path / "relay.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            state = httpx.get(
                restarted.url + f"/Lead/{lead_id}/status",
                headers={"Authorization": seed.lead_key},
                timeout=10,
            ).json()
            tw = state["Integrations"]["Twilio"]
            if tw["SyncStatus"] == "SYNCED":
                break
            assert tw["SyncStatus"] != "ERROR", tw
            assert time.monotonic() < deadline, f"not resumed: {tw}"
            time.sleep(0.2)
        sim.wait_idle()
        convs = [
            c
            for c in sim.state.list_conversations()
            if any(p.address == customer for p in c.participants.values())
        ]
        assert len(convs) == 1
        assert {p.address for p in convs[0].participants.values()} == {customer, number}
        assert convs[0].sid == tw["Data"]["ConversationSID"]
        greetings = [m for m in sim.handset(customer) if m["body"].startswith("Hi Casey")]
        assert len(greetings) == 1
        details = [m for m in sim.handset(number) if "Casey Crash" in m["body"]]
        assert len(details) == 1
        assert len(convs[0].webhooks) == 2
    finally:
        restarted.stop()


@pytest.mark.parametrize("step", ["after_message_stored", "after_conversation_effect"])
def test_webhook_crash_then_redelivery_applies_effects_once(
    dynamodb_endpoint: str, sim: SimHandle, tmp_path: Path, step: str
) -> None:
    """The relay process dies while handling a customer's text (after storing the
    message, or after the conversation's update and before the lead's); Twilio
    redelivers the webhook to the restarted relay, twice: the conversation and the
    lead each get the message's effects exactly once."""
    from urllib.parse import urlencode

    from app.sandbox.twilio_sim import compute_signature

    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    tables = tables_for(settings)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = relay_env(
        W2T_TABLE_PREFIX=prefix,
        W2T_DYNAMODB_ENDPOINT=dynamodb_endpoint,
        TWILIO_ACCOUNT_SID=SIM_SID,
        TWILIO_AUTH_TOKEN=SIM_TOKEN,
        W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=public,
        W2T_BACKGROUND="0",
    )
    customer = f"+1415555{int(time.time() * 1000) % 10000:04d}"
    lead_id, sid, msg_sid = str(uuid.uuid4()), "CH" + uuid.uuid4().hex, "IM" + uuid.uuid4().hex
    lead_store.put_new_lead(
        tables,
        {
            "LeadId": lead_id,
            "Status": "ACTIVE",
            "DateSubmitted": "2026-01-01T00:00:00Z",
            "LocationId": "loc-crash",
            "PipelineStatus": "new",
            "Activity": [],
            "Version": 1,
        },
    )
    conversation_store.put_conversation(
        tables,
        {
            "ConversationSid": sid,
            "LocationId": "loc-crash",
            "LocationIds": ["loc-crash"],
            "CustomerPhone": customer,
            "Web2TextNumber": "+13125550100",
            "LeadIds": [lead_id],
            "State": "active",
            "UnreadCount": 0,
            "Version": 1,
        },
    )
    form = {
        "EventType": "onMessageAdded",
        "ConversationSid": sid,
        "MessageSid": msg_sid,
        "Index": "3",
        "Author": customer,
        "Body": "are you open sunday?",
        "Attributes": "{}",
        "DateCreated": "2026-01-02T00:00:00Z",
    }
    path = "/TwilioWebhooks/sync"
    headers = {
        "X-Twilio-Signature": compute_signature(SIM_TOKEN, public + path, form),
        "Content-Type": "application/x-www-form-urlencoded",
    }

    crashing = RelayProcess(env, port, tmp_path / "relay.log", crash_at=step)
    try:
        with pytest.raises(httpx.HTTPError):  # no answer: Twilio will redeliver
            httpx.post(crashing.url + path, content=urlencode(form), headers=headers, timeout=30)
        assert crashing.wait_exit() == CRASH_EXIT_CODE
    finally:
        crashing.stop()
    half = conversation_store.get_conversation(tables, sid) or {}
    assert half["UnreadCount"] == (1 if step == "after_conversation_effect" else 0)
    assert (lead_store.get_lead(tables, lead_id) or {})["Activity"] == []

    restarted = RelayProcess(env, port, tmp_path / "relay.log")
    try:
        for _ in range(2):  # the redelivery, and one more duplicate
            r = httpx.post(restarted.url + path, content=urlencode(form), headers=headers)
            assert r.status_code == 200, r.text
    finally:
        restarted.stop()
    conv = conversation_store.get_conversation(tables, sid) or {}
    assert conv["UnreadCount"] == 1 and conv[versioned.EFFECTS_ATTR] == [msg_sid]
    assert conv["LastMessagePreview"] == "are you open sunday?"
    lead = lead_store.get_lead(tables, lead_id) or {}
    assert [a["text"] for a in lead["Activity"] if a["kind"] == "inbound"] == [
        "are you open sunday?"
    ]
    assert lead[versioned.EFFECTS_ATTR] == [msg_sid]
    assert lead["PipelineStatus"] == "engaged" and lead["LastInboundAt"] == form["DateCreated"]
    assert len(message_store.list_messages(tables, sid)) == 1
    # the crashed delivery's changes were never written (the batch is recorded at
    # its end): the redelivery publishes the conversation and the lead as they are
    # now, so desktops see the unread count, preview and pipeline move
    from app.relay.changes import ChangeLog
    from app.relay.tables import CHANGE_LOG

    log = ChangeLog(tables.client, tables.name(CHANGE_LOG))
    changes = log.read(["loc-crash"], None, limit=100).changes
    latest = {(c.entity, c.entity_id): c.version for c in changes}
    assert latest[("conversation", sid)] == int(conv["Version"])
    assert latest[("lead", lead_id)] == int(lead["Version"])
    assert ("message", msg_sid) in latest

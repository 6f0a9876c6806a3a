"""A text to a pool number outside an open conversation reaches a person: after the
thread closed it becomes a new lead at the same location (Source inbound_sms, the
text as the first customer message, the same pool number, the store told); from a
stranger it is kept unrouted and answered once. Duplicates make one lead."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.relay import lead_store
from app.relay.inbound import records
from app.relay.inbound.routing import NOT_MONITORED_TEXT, STORE_NO_THREAD_TEXT, inbound_lead_id
from app.relay.versioned import Item
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import (
    POOL,
    SIM_TOKEN,
    close_lead,
    create_lead,
    inbound_form,
    lead_item,
    messages,
    new_phone,
    post_signed,
    synced_conversation,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay, tables_for

SIM_SID = "AC" + "6" * 32


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, stuck_after_s=15.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550290", pool=sim.pool)


def _closed_thread(relay: RelayHandle, sim: SimHandle, seed: Seed) -> tuple[str, str, str]:
    """A customer whose only conversation closed: (phone, their pool number, old lead)."""
    phone = new_phone()
    lead_id = create_lead(relay, seed, phone, name="Dana Returning")
    conv = synced_conversation(relay, lead_id)
    close_lead(relay, seed, lead_id)
    wait_for(
        lambda: sim.state.get_conversation(conv["ConversationSid"]).state == "closed",
        what="closed at Twilio",
    )
    return phone, str(conv["CustomerProxy"]), lead_id


def test_a_text_after_the_thread_closed_becomes_a_new_lead(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, proxy, old_lead = _closed_thread(relay, sim, seed)
    store_texts_before = len(sim.handset(seed.web2text_number))
    sent = sim.inbound(phone, proxy, "Is the red sofa still there?")
    lead_id = inbound_lead_id(sent["sid"])
    conv = synced_conversation(relay, lead_id)
    lead = lead_item(relay, lead_id)
    assert lead is not None and lead["Lead"]["Source"] == "inbound_sms"
    assert lead["Lead"]["Name"] == "Dana Returning"
    assert lead["LocationId"] == seed.location_id
    assert lead_store.lead_view(lead)["source"] == "inbound_sms"
    assert (
        conv["ConversationSid"]
        != lead_store.get_lead(tables_for(relay), old_lead)["Integrations"]["Twilio"]["Data"][
            "ConversationSID"
        ]
    )
    assert conv["CustomerProxy"] == proxy  # the customer keeps the number they texted

    # the text is the conversation's first customer message; the store got the details
    # and then the text itself; the customer was not greeted again
    def customer_messages() -> list[Item]:
        found = messages(relay, conv["ConversationSid"])
        return [m for m in found if m.get("AuthorKind") == "customer"]

    first = wait_for(customer_messages, what="the customer's text stored")
    assert [m["Body"] for m in first] == ["Is the red sofa still there?"]
    wait_for(lambda: len(sim.handset(seed.web2text_number)) >= store_texts_before + 2)
    store_texts = [m["body"] for m in sim.handset(seed.web2text_number)][store_texts_before:]
    assert store_texts[0].startswith("A customer texted in again")
    assert store_texts[1] == "Is the red sofa still there?"
    assert [m["body"] for m in sim.handset(phone)][-1].startswith("Hi Dana")  # old greeting
    assert sum(m["body"].startswith("Hi Dana") for m in sim.handset(phone)) == 1
    record = records.get_text(tables_for(relay), sent["sid"])
    assert record is not None and record["State"] == records.ROUTED
    assert record["LeadId"] == lead_id


def test_a_redelivered_text_makes_one_lead(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone, proxy, _ = _closed_thread(relay, sim, seed)
    sent = sim.inbound(phone, proxy, "Hello again")
    lead_id = inbound_lead_id(sent["sid"])
    synced_conversation(relay, lead_id)
    for _ in range(2):
        answer = post_signed(
            sim, relay, "/TwilioWebhooks/onIncomingMessage", inbound_form(sim, sent)
        )
        assert answer.status_code == 200 and "<Message>" not in answer.text
    sim.wait_idle()
    leads = [
        item
        for item in lead_store.leads_of_location(tables_for(relay), seed.location_id)
        if item["Lead"]["PhoneNumber"] == phone
    ]
    assert len(leads) == 2  # the closed one and the one the text made


def test_a_text_in_an_open_thread_makes_no_lead(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create_lead(relay, seed, phone)
    conv = synced_conversation(relay, lead_id)
    sent = sim.inbound(phone, str(conv["CustomerProxy"]), "Thanks!")
    record = wait_for(
        lambda: (
            (r := records.get_text(tables_for(relay), sent["sid"]))
            and r["State"] != records.RECEIVED
            and r
        )
    )
    assert record["State"] == records.IN_CONVERSATION
    assert record["ConversationSid"] == conv["ConversationSid"]
    assert lead_item(relay, inbound_lead_id(sent["sid"])) is None


def test_a_stranger_is_kept_unrouted_and_answered_once(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    stranger, number = new_phone(), POOL[-1]
    first = sim.inbound(stranger, number, "who is this?")
    wait_for(lambda: sim.handset(stranger), what="the not-monitored reply")
    second = sim.inbound(stranger, number, "hello??")
    wait_for(
        lambda: (
            (r := records.get_text(tables_for(relay), second["sid"]))
            and r["State"] == records.UNROUTED
        )
    )
    sim.wait_idle()
    assert [m["body"] for m in sim.handset(stranger)] == [NOT_MONITORED_TEXT]
    listed = {i["Id"]: i for i in records.unrouted(tables_for(relay))}
    assert listed[first["sid"]]["Reason"] == "unknown_sender"
    assert listed[second["sid"]]["Body"] == "hello??"


def test_a_store_texting_a_closed_thread_is_told_once(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create_lead(relay, seed, phone)
    conv = synced_conversation(relay, lead_id)
    close_lead(relay, seed, lead_id)
    before = len(sim.handset(seed.web2text_number))
    sent = sim.inbound(seed.web2text_number, str(conv["StoreProxy"]), "Still there?")
    wait_for(lambda: len(sim.handset(seed.web2text_number)) > before)
    assert sim.handset(seed.web2text_number)[-1]["body"] == STORE_NO_THREAD_TEXT
    record = records.get_text(tables_for(relay), sent["sid"])
    assert record is not None and record["Reason"] == "store_without_conversation"


def test_admin_lists_and_routes_unrouted_texts(
    relay: RelayHandle, sim: SimHandle, seed: Seed, dynamodb_endpoint: str
) -> None:
    stranger = new_phone()
    sent = sim.inbound(stranger, POOL[-2], "I saw your ad")
    wait_for(
        lambda: (
            (r := records.get_text(tables_for(relay), sent["sid"]))
            and r["State"] == records.UNROUTED
        )
    )
    env = {
        "W2T_TABLE_PREFIX": relay.settings.table_prefix,
        "W2T_DYNAMODB_ENDPOINT": dynamodb_endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    cli = [sys.executable, "-m", "app.relay.cli", "admin"]
    listed = subprocess.run([*cli, "unrouted"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith(sent["sid"]))
    assert stranger in line and "I saw your ad" in line and "unknown_sender" in line
    wait_for(lambda: sim.handset(stranger), what="the not-monitored reply")
    sim.wait_idle()
    later = sim.inbound(stranger, POOL[-2], "hello?")
    wait_for(lambda: (r := records.get_text(tables_for(relay), later["sid"]))
             and r["State"] == records.UNROUTED)
    listed = subprocess.run([*cli, "unrouted"], env=env, capture_output=True, text=True)
    lines = {x.split("\t")[0]: x.split("\t") for x in listed.stdout.splitlines()}
    assert "reply sent" in lines[sent["sid"]]
    assert "replied earlier" in lines[later["sid"]]  # one reply per phone and number
    routed = subprocess.run(
        [*cli, "route", "--id", sent["sid"], "--location-id", seed.location_id],
        env=env,
        capture_output=True,
        text=True,
    )
    assert routed.returncode == 0, routed.stderr
    lead_id = routed.stdout.strip()
    assert lead_id == inbound_lead_id(sent["sid"])
    conv = synced_conversation(relay, lead_id)  # the running relay's sweeper took it
    wait_for(
        lambda: any(m["Body"] == "I saw your ad" for m in messages(relay, conv["ConversationSid"]))
    )
    again = subprocess.run(
        [*cli, "route", "--id", sent["sid"], "--location-id", seed.location_id],
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "no unrouted text" in again.stderr

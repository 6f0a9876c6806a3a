"""A customer who calls the pool number that texts them reaches the store (masked: each
side sees a pool number), the store calling back reaches the customer, and the call's
outcome lands in the thread; a missed call is a customer message (staff notified as
for a text). Strangers hear that the number is not monitored; nothing is dropped.
Through the real relay on DynamoDB Local and the simulator's `/_sim/call`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from app.relay import conversation_store, message_store
from app.relay.inbound import records
from app.relay.versioned import Item
from app.relay.webhooks.voice import NOT_MONITORED_SAY
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import (
    POOL,
    SIM_TOKEN,
    close_lead,
    create_lead,
    new_phone,
    post_signed,
    synced_conversation,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay, tables_for

SIM_SID = "AC" + "7" * 32


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, stuck_after_s=15.0)
    sim.set_voice_url(handle.url + "/TwilioWebhooks/onIncomingCall")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550390", pool=sim.pool)


def _open_thread(relay: RelayHandle, seed: Seed) -> tuple[str, Item]:
    phone = new_phone()
    lead_id = create_lead(relay, seed, phone, name="Casey Caller")
    return phone, synced_conversation(relay, lead_id)


def _call_message(relay: RelayHandle, conv: Item, call_sid: str) -> Item:
    sid = str(conv["ConversationSid"])
    return wait_for(
        lambda: message_store.get_message(tables_for(relay), sid, f"call-{call_sid}"),
        what="the call's message",
    )


def test_a_customer_call_reaches_the_store_and_shows_in_the_thread(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    result = sim.call(phone, str(conv["CustomerProxy"]), answer=True, duration=125)
    assert result["dialed"] == seed.web2text_number
    assert result["callerId"] == conv["StoreProxy"]  # the number the store texts them on
    assert result["status"] == "completed"
    assert sim.calls(seed.web2text_number)[-1]["from"] == conv["StoreProxy"]
    message = _call_message(relay, conv, result["callSid"])
    assert message["AuthorKind"] == "system"
    assert message["Body"] == "Phone call from the customer, answered (2:05)"
    view = message_store.message_view(message)
    assert view["call"] == {
        "callSid": result["callSid"],
        "direction": "from_customer",
        "outcome": "answered",
        "durationS": 125,
    }


def test_a_missed_call_is_a_customer_message_staff_are_told_about(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    sid = str(conv["ConversationSid"])
    unread_before = int(conv.get("UnreadCount") or 0)
    result = sim.call(phone, str(conv["CustomerProxy"]), answer=False)
    assert result["status"] == "no-answer"
    message = _call_message(relay, conv, result["callSid"])
    assert message["AuthorKind"] == "customer"  # the desktop notifies as for a text
    assert message["Body"] == "Missed call from the customer"
    assert message_store.message_view(message)["call"]["outcome"] == "missed"
    after = wait_for(
        lambda: (
            c
            if int(
                (c := conversation_store.get_conversation(tables_for(relay), sid) or {}).get(
                    "UnreadCount"
                )
                or 0
            )
            > unread_before
            else None
        ),
        what="the unread count moved",
    )
    assert after["LastMessagePreview"] == "Missed call from the customer"


def test_the_store_calling_the_pool_number_reaches_the_customer(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    result = sim.call(seed.web2text_number, str(conv["StoreProxy"]), duration=20)
    assert result["dialed"] == phone
    assert result["callerId"] == conv["CustomerProxy"]  # the number that texts the customer
    message = _call_message(relay, conv, result["callSid"])
    assert message["Body"] == "The store called the customer (0:20)"
    assert message["AuthorKind"] == "system"


def test_duplicate_and_reordered_call_callbacks_make_one_message(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    sid = str(conv["ConversationSid"])
    twiml = post_signed(
        sim,
        relay,
        "/TwilioWebhooks/onIncomingCall",
        {"CallSid": "CA" + "1" * 32, "From": phone, "To": str(conv["CustomerProxy"])},
    )
    assert twiml.status_code == 200, twiml.text
    number = ET.fromstring(twiml.text).find("Dial/Number")
    assert number is not None
    path = number.attrib["statusCallback"].removeprefix(relay.url)
    base = {"CallSid": "CA" + "2" * 32, "ParentCallSid": "CA" + "1" * 32}
    done = dict(base, CallStatus="completed", CallDuration="42")
    for form in (done, done, dict(base, CallStatus="in-progress"), done):
        r = post_signed(sim, relay, path, form)
        assert r.status_code == 204, r.text
    found = [
        m
        for m in message_store.list_messages(tables_for(relay), sid)
        if str(m["MessageSid"]).startswith("call-")
    ]
    assert [m["Body"] for m in found] == ["Phone call from the customer, answered (0:42)"]


def test_an_unsigned_or_incomplete_call_webhook_is_refused(
    relay: RelayHandle, sim: SimHandle
) -> None:
    import httpx

    r = httpx.post(
        relay.url + "/TwilioWebhooks/onIncomingCall", data={"From": "+17735550100"}, timeout=10
    )
    assert r.status_code == 403
    assert r.json()["reason"] == "invalid_signature"
    r = post_signed(sim, relay, "/TwilioWebhooks/onIncomingCall", {"From": "+17735550100"})
    assert r.status_code == 400
    assert r.json()["reason"] == "invalid_request"


def test_a_stranger_hears_not_monitored_and_the_call_is_kept(
    relay: RelayHandle, sim: SimHandle
) -> None:
    stranger = new_phone()
    result = sim.call(stranger, POOL[5])
    assert result["dialed"] is None
    assert result["said"] == [NOT_MONITORED_SAY]
    kept = records.get_text(tables_for(relay), result["callSid"])
    assert kept is not None
    assert kept["State"] == records.UNROUTED
    assert kept["Reason"] == "unknown_caller"
    assert kept["Kind"] == "call"
    assert any(i["Id"] == result["callSid"] for i in records.unrouted(tables_for(relay)))


def test_a_customer_whose_thread_closed_still_reaches_the_store(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create_lead(relay, seed, phone, name="Dana Returning")
    conv = synced_conversation(relay, lead_id)
    close_lead(relay, seed, lead_id)
    wait_for(
        lambda: sim.state.get_conversation(conv["ConversationSid"]).state == "closed",
        what="closed at Twilio",
    )
    result = sim.call(phone, str(conv["CustomerProxy"]), answer=False)
    assert result["dialed"] == seed.web2text_number
    kept = wait_for(
        lambda: (
            t
            if (t := records.get_text(tables_for(relay), result["callSid"]))
            and t.get("CallOutcome") == "missed"
            else None
        ),
        what="the kept call's outcome",
    )
    assert kept["Reason"] == "call_without_conversation"
    assert kept["Body"] == "Missed call from the customer"

"""Leads through the Twilio integration against the simulator (real twilio SDK):
the three rules, system messages exactly once, proxy pool, close, webhooks,
STOP/START, landlines, concurrency."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from app.relay import conversation_store, lead_store, message_store, versioned
from app.sandbox.twilio_sim import SimHandle, compute_signature, start_simulator
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_key,
    seed_dealer,
    seed_location,
    start_relay,
    tables_for,
)

SIM_SID = "AC" + "7" * 32
SIM_TOKEN = "relay-flow-token"
# A store needs its own proxy number in each of its open conversations: a big pool.
POOL = [f"+1{area}55501{i:02d}" for area in ("312", "415", "212", "214") for i in range(10)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, sweeper_interval_s=1.0, stuck_after_s=15.0)
    sim.set_webhook_url(handle.url + "/TwilioWebhooks/onIncomingMessage")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550190", pool=sim.pool)


_phone_counter = iter(range(200, 999))


def new_phone() -> str:
    return f"+1312555{next(_phone_counter):04d}"


def create(
    relay: RelayHandle,
    seed: Seed,
    phone: str,
    location: str | None = None,
    lead_id: str | None = None,
) -> str:
    lead_id = lead_id or str(uuid.uuid4())
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/create",
        headers={"Authorization": seed.lead_key},
        json={
            "LeadType": "WEB2TEXT",
            "UniversalRetailerId": seed.retailer_id,
            "Lead": {
                "LocationId": location or seed.location_id,
                "PageUrl": "https://a.example/x",
                "Name": "Robin Buyer",
                "PhoneNumber": phone,
                "CustomerMessage": "Hi there",
            },
        },
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return lead_id


def status(relay: RelayHandle, seed: Seed, lead_id: str) -> dict[str, Any]:
    return httpx.get(
        relay.url + f"/Lead/{lead_id}/status", headers={"Authorization": seed.lead_key}, timeout=10
    ).json()


def wait_for(pred: Any, timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def synced(
    relay: RelayHandle,
    seed: Seed,
    lead_id: str,
    want: str = "SYNCED",
    tolerate_error: bool = False,
    timeout: float = 15.0,
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        s = status(relay, seed, lead_id)
        tw = s.get("Integrations", {}).get("Twilio", {})
        if tw.get("SyncStatus") == "ERROR" and want != "ERROR" and not tolerate_error:
            raise AssertionError(f"Twilio ERROR: {tw}")
        return s if tw.get("SyncStatus") == want else None

    return wait_for(check, timeout=timeout, what=f"{lead_id} {want}")


def sid_of(state: dict[str, Any]) -> str:
    return state["Integrations"]["Twilio"]["Data"]["ConversationSID"]


def bodies(sim: SimHandle, phone: str) -> list[str]:
    return [m["body"] for m in sim.handset(phone)]


def test_rule1_same_location_twice_one_conversation(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    a = synced(relay, seed, create(relay, seed, phone))
    sid = sid_of(a)
    wait_for(
        lambda: len(sim.handset(phone)) >= 1 and len(sim.handset(seed.web2text_number)) >= 1,
        what="greeting and details",
    )
    b = synced(relay, seed, create(relay, seed, phone))
    assert sid_of(b) == sid
    conv = sim.state.get_conversation(sid)
    import json as _json

    assert isinstance(conv.attributes, str)  # always a JSON string
    assert sorted(_json.loads(conv.attributes)["LeadIds"]) == sorted([a["LeadId"], b["LeadId"]])
    sms = [p for p in conv.participants.values() if p.address]
    assert {p.address for p in sms} == {phone, seed.web2text_number}
    assert len(conv.webhooks) == 2  # sync + close, never added twice
    sim.wait_idle()
    greetings = [m for m in sim.handset(phone) if m["body"].startswith("Hi Robin")]
    assert len(greetings) == 2  # one greeting per lead, each exactly once
    customer_proxy = {m["from"] for m in greetings}
    assert len(customer_proxy) == 1 and customer_proxy <= set(sim.pool)
    details = [m for m in sim.handset(seed.web2text_number) if phone[-4:] in m["body"]]
    assert len(details) == 2
    # proximity: a 312 customer gets a 312 proxy number
    assert next(iter(customer_proxy)).startswith("+1312")
    item = conversation_store.get_conversation(tables_for(relay), sid)
    assert item is not None and sorted(item["LeadIds"]) == sorted([a["LeadId"], b["LeadId"]])
    # sync re-runs the integration: same conversation, nothing sent again
    r = httpx.post(
        relay.url + f"/Lead/{a['LeadId']}/sync", headers={"Authorization": seed.lead_key}
    )
    assert r.status_code == 200 and r.json()["Status"] in ("SYNCING", "ACTIVE")
    again = wait_for(
        lambda: (lambda st: st if st["Status"] == "ACTIVE" else None)(
            status(relay, seed, a["LeadId"])
        ),
        what="sync done",
    )
    assert sid_of(again) == sid
    assert again["Integrations"]["Twilio"]["Data"]["ConversationStatus"] == "active"
    sim.wait_idle()
    assert len([m for m in sim.handset(phone) if m["body"].startswith("Hi Robin")]) == 2


def test_rule2_and_rule3(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    other_number = "+13125550191"
    loc2 = seed_location(relay, seed.retailer_id, other_number, name="Second store")
    loc3 = seed_location(relay, seed.retailer_id, seed.web2text_number, name="Shares the number")
    a = synced(relay, seed, create(relay, seed, phone))
    b = synced(relay, seed, create(relay, seed, phone, location=loc2))
    c = synced(relay, seed, create(relay, seed, phone, location=loc3))
    assert sid_of(a) != sid_of(b)  # rule 2: different Web2Text numbers
    assert sid_of(a) == sid_of(c)  # rule 3: same Web2Text number
    item = conversation_store.get_conversation(tables_for(relay), sid_of(a))
    assert item is not None and set(item["LocationIds"]) == {seed.location_id, loc3}


def test_concurrent_leads_one_new_pair(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    ids: list[str] = []
    lock = threading.Lock()

    def go() -> None:
        lead_id = create(relay, seed, phone)
        with lock:
            ids.append(lead_id)

    threads = [threading.Thread(target=go) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sids = {sid_of(synced(relay, seed, i)) for i in ids}
    assert len(sids) == 1
    convs = [
        c
        for c in sim.state.list_conversations()
        if any(p.address == phone for p in c.participants.values())
    ]
    assert len(convs) == 1
    sim.wait_idle()
    assert len([b for b in bodies(sim, phone) if b.startswith("Hi Robin")]) == 5


def test_pool_concurrency_and_exhaustion(dynamodb_endpoint: str, sim: SimHandle) -> None:
    """One store in many conversations: each needs its own proxy; racing leads never
    share one; past the pool's size the lead is ERROR with the reason kept."""
    relay = start_relay(dynamodb_endpoint, sim, background=False, register_inbound=False)
    try:
        seed = seed_dealer(relay, web2text_number="+13125550192", pool=sim.pool[:3])
        phones = [new_phone() for _ in range(3)]
        ids = [None] * 3

        def go(i: int) -> None:
            ids[i] = create(relay, seed, phones[i])  # type: ignore[call-overload]

        threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sids = [sid_of(synced(relay, seed, i)) for i in ids]  # type: ignore[arg-type]
        assert len(set(sids)) == 3
        store_proxies = [
            conversation_store.get_conversation(relay.tables, s)["StoreProxy"] for s in sids
        ]  # type: ignore[index]
        assert len(set(store_proxies)) == 3
        # the store's three numbers are taken: the next lead waits, it does not fail
        extra_phone = new_phone()
        extra = create(relay, seed, extra_phone)
        wait_for(lambda: relay.ctx.pool.exhausted_events >= 1, what="the pool to run out")
        waiting = lead_store.get_lead(relay.tables, extra)
        assert waiting is not None and waiting.get("PendingShard") == "P", waiting
        assert waiting["Integrations"]["Twilio"]["SyncStatus"] == "NOT SYNCED", waiting
        assert not [m for m in sim.handset(extra_phone) if "thanks" in m["body"]]
        # a conversation closes and frees a number: the waiting lead is served
        r = httpx.post(
            relay.url + f"/Lead/{ids[0]}/close", headers={"Authorization": seed.lead_key}
        )
        assert r.status_code == 200, r.text
        wait_for(
            lambda: (conversation_store.get_conversation(relay.tables, sids[0]) or {}).get(
                "State"
            )
            == "closed",
            what="the first conversation to close",
        )
        relay.ctx.leads.drive_quietly(extra, wait_s=5.0)
        synced(relay, seed, extra)
        assert any("thanks" in m["body"] for m in sim.handset(extra_phone))
    finally:
        relay.stop()


def test_50416_falls_through_to_next_number(dynamodb_endpoint: str, sim: SimHandle) -> None:
    relay = start_relay(dynamodb_endpoint, sim, background=False, register_inbound=False)
    try:
        seed = seed_dealer(relay, web2text_number="+13125550193", pool=sim.pool)
        phone = new_phone()
        # Somebody else (not in our tables) bound this customer to the nearest number.
        client = relay.ctx.twilio
        outside = client.conversations.create(friendly_name="outside")
        client.conversations(outside.sid).participants.create(
            messaging_binding_address=phone, messaging_binding_proxy_address=sim.pool[0]
        )
        state = synced(relay, seed, create(relay, seed, phone))
        conv = conversation_store.get_conversation(relay.tables, sid_of(state))
        assert conv is not None and conv["CustomerProxy"] != sim.pool[0]
        assert conv["CustomerProxy"].startswith("+1312")  # still the nearest free one
    finally:
        relay.stop()


def test_landline_rejected(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    sim.state.set_line_types({phone: "landline"})
    lead_id = str(uuid.uuid4())
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/create",
        headers={"Authorization": seed.lead_key},
        json={
            "UniversalRetailerId": seed.retailer_id,
            "Lead": {
                "LocationId": seed.location_id,
                "PageUrl": "https://a.example",
                "Name": "L",
                "PhoneNumber": phone,
                "CustomerMessage": "x",
            },
        },
    )
    assert r.status_code == 400 and r.json()["reason"] == "line_type"
    assert r.json()["message"] == (
        "Phone Number is INVALID - Twilio lookup reported this number as type 'landline' "
        'which is outside the allowed types of phone numbers: ["mobile","nonFixedVoip",'
        '"fixedVoip","personal"]'
    )


def test_texts_both_ways_update_leads(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": phone, "to": conv["CustomerProxy"], "body": "Do you have it in red?"},
    )
    wait_for(
        lambda: any("in red" in b for b in bodies(sim, seed.web2text_number)),
        what="store gets text",
    )
    # the activity and times land first, the pipeline move right after (its own update)
    item = wait_for(
        lambda: (
            lambda i: i if i and i.get("LastInboundAt") and i["PipelineStatus"] != "new" else None
        )(lead_store.get_lead(relay.tables, lead_id)),
        what="lead updated",
    )
    assert item["PipelineStatus"] == "engaged"
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None and conv["UnreadCount"] == 1
    msgs = message_store.list_messages(relay.tables, sid)
    inbound = [m for m in msgs if m["AuthorKind"] == "customer"]
    assert len(inbound) == 1 and inbound[0]["Body"] == "Do you have it in red?"
    # the store answers from its phone
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": seed.web2text_number, "to": conv["StoreProxy"], "body": "Yes we do!"},
    )
    wait_for(lambda: "Yes we do!" in bodies(sim, phone), what="customer gets reply")
    item = wait_for(
        lambda: (lambda i: i if i and i.get("FirstStaffReplyAt") else None)(
            lead_store.get_lead(relay.tables, lead_id)
        ),
        what="first reply",
    )
    assert item["PipelineStatus"] == "engaged"  # automatic moves never go back
    # the desktop's feed got the lead, the conversation and the messages
    changes: list[Any] = []
    cursor = None
    while True:
        page = relay.ctx.change_log.read([seed.location_id], cursor, 500)
        changes.extend(page.changes)
        cursor = page.cursor
        if not page.has_more:
            break
    seen = {(c.entity, c.entity_id) for c in changes}
    assert ("lead", lead_id) in seen and ("conversation", sid) in seen
    assert ("message", inbound[0]["MessageSid"]) in seen
    latest_lead = [c for c in changes if c.entity == "lead" and c.entity_id == lead_id][-1]
    assert latest_lead.data["pipelineStatus"] == "engaged"
    # receipts moved our system messages forward
    wait_for(
        lambda: all(
            m["Status"] == "delivered"
            for m in message_store.list_messages(relay.tables, sid)
            if m["AuthorKind"] == "system"
        ),
        what="delivered receipts",
    )


def test_possible_opt_out_flagged(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": phone, "to": conv["CustomerProxy"], "body": "please stop texting me"},
    )
    wait_for(
        lambda: (lead_store.get_lead(relay.tables, lead_id) or {}).get("PossibleOptOut"),
        what="possible opt-out flag",
    )
    assert status(relay, seed, lead_id)["Status"] == "ACTIVE"


def test_close_last_lead_closes_conversation(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    a = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, a))
    b = create(relay, seed, phone)
    synced(relay, seed, b)
    r = httpx.post(
        relay.url + f"/Lead/{a}/close",
        headers={"Authorization": seed.lead_key},
        json={"reason": "Duplicate"},
    )
    assert r.status_code == 200 and r.json()["Status"] == "CLOSED"
    synced(relay, seed, a, want="CLOSED")
    assert sim.state.get_conversation(sid).state == "active"
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None and conv["LeadIds"] == [b]
    httpx.post(relay.url + f"/Lead/{b}/close", headers={"Authorization": seed.lead_key}, json={})
    s = synced(relay, seed, b, want="CLOSED")
    assert s["Integrations"]["Twilio"]["Data"]["ConversationStatus"] == "closed"
    assert sim.state.get_conversation(sid).state == "closed"
    sim.wait_idle()
    notices = [x for x in bodies(sim, seed.web2text_number) if "this lead was closed" in x]
    assert len(notices) == 1
    # the pair is free again: a new lead opens a new conversation
    c = synced(relay, seed, create(relay, seed, phone))
    assert sid_of(c) != sid


def test_stop_and_start_from_customer(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    proxy = conv["CustomerProxy"]
    httpx.post(sim.url + "/_sim/inbound", json={"from": phone, "to": proxy, "body": "STOP"})
    s = wait_for(
        lambda: (lambda st: st if st["Status"] == "CLOSED" else None)(status(relay, seed, lead_id)),
        what="closed by STOP",
    )
    assert s["CloseReason"] == "Participant opted out of text messaging"
    item = relay.tables.optouts.get_item(Key={"PhoneNumber": phone})["Item"]
    assert set(item["OptedOutNumbers"]) == {proxy}
    assert item["OptedOutNumbers"][proxy]["OptOutRequest"] == "STOP"
    opt_key = issue_key(relay, ["TwilioWebhooks/getOptInNumber"])
    r = httpx.post(
        relay.url + "/TwilioWebhooks/checkOptInStatus",
        headers={"Authorization": opt_key},
        json={"PhoneNumber": phone},
    )
    assert r.json() == {"Status": "OPTED-OUT", "OptInNumbers": [proxy]}
    # a new lead from an opted-out phone is refused
    bad = httpx.post(
        relay.url + f"/Lead/{uuid.uuid4()}/create",
        headers={"Authorization": seed.lead_key},
        json={
            "UniversalRetailerId": seed.retailer_id,
            "Lead": {
                "LocationId": seed.location_id,
                "PageUrl": "https://a.example",
                "Name": "R",
                "PhoneNumber": phone,
                "CustomerMessage": "x",
            },
        },
    )
    assert bad.status_code == 400 and bad.json()["reason"] == "recipient_opted_out"
    httpx.post(sim.url + "/_sim/inbound", json={"from": phone, "to": proxy, "body": "START"})
    wait_for(
        lambda: (
            httpx.post(
                relay.url + "/TwilioWebhooks/checkOptInStatus",
                headers={"Authorization": opt_key},
                json={"PhoneNumber": phone},
            ).json()
            == {"Status": "OPTED-IN"}
        ),
        what="opted in again",
    )
    for bad_body in ({}, {"PhoneNumber": "12"}, [1]):
        r = httpx.post(
            relay.url + "/TwilioWebhooks/checkOptInStatus",
            headers={"Authorization": opt_key},
            json=bad_body,
        )
        assert r.status_code == 400
    assert (
        httpx.post(
            relay.url + "/TwilioWebhooks/checkOptInStatus", json={"PhoneNumber": phone}
        ).status_code
        == 401
    )
    assert (
        httpx.post(
            relay.url + "/TwilioWebhooks/checkOptInStatus",
            headers={"Authorization": issue_key(relay, ["Lead/status"])},
            json={"PhoneNumber": phone},
        ).status_code
        == 403
    )


def test_stop_from_store_warns_instead(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": seed.web2text_number, "to": conv["StoreProxy"], "body": "STOP"},
    )
    wait_for(
        lambda: (conversation_store.get_conversation(relay.tables, sid) or {}).get("StoreOptedOut"),
        what="store opt-out recorded",
    )
    assert status(relay, seed, lead_id)["Status"] == "ACTIVE"
    warnings = [
        m for m in message_store.list_messages(relay.tables, sid) if m["Body"].startswith("Warning")
    ]
    assert len(warnings) == 1
    item = relay.tables.optouts.get_item(Key={"PhoneNumber": seed.web2text_number})["Item"]
    assert conv["StoreProxy"] in item["OptedOutNumbers"]
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": seed.web2text_number, "to": conv["StoreProxy"], "body": "START"},
    )
    wait_for(
        lambda: (
            not (conversation_store.get_conversation(relay.tables, sid) or {}).get("StoreOptedOut")
        ),
        what="store opted in",
    )


def _signed_post(
    relay: RelayHandle,
    path: str,
    form: dict[str, str],
    token: str = SIM_TOKEN,
    url: str | None = None,
) -> httpx.Response:
    sig = compute_signature(token, url or relay.settings.public_url + path, form)
    return httpx.post(
        relay.url + path,
        content=urlencode(form),
        headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )


def test_webhook_signatures(relay: RelayHandle) -> None:
    form = {"EventType": "onMessageAdded", "ConversationSid": "CHx", "MessageSid": "IMx"}
    for path in (
        "/TwilioWebhooks/sync",
        "/TwilioWebhooks/close",
        "/TwilioWebhooks/onIncomingMessage",
    ):
        r = httpx.post(relay.url + path, data=form)
        assert r.status_code == 403 and r.json()["reason"] == "invalid_signature"
        assert _signed_post(relay, path, form, token="wrong").status_code == 403
        assert _signed_post(relay, path, form, url="http://elsewhere" + path).status_code == 403
        assert _signed_post(relay, path, form).status_code == 200 or path.endswith("Message")
    # an inbound text needs its sender and number: without them a clear 400, not a drop
    incoming = "/TwilioWebhooks/onIncomingMessage"
    missing = _signed_post(relay, incoming, form)
    assert missing.status_code == 400 and missing.json()["reason"] == "invalid_request"
    text = {"MessageSid": "SM" + "1" * 32, "From": "+17735550000", "To": "+13125559999"}
    assert _signed_post(relay, incoming, text).status_code == 200


def test_duplicate_and_reordered_webhooks(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    sim.wait_idle()
    before = conversation_store.get_conversation(relay.tables, sid)
    assert before is not None
    msg = {
        "EventType": "onMessageAdded",
        "ConversationSid": sid,
        "MessageSid": "IM" + "d" * 32,
        "Index": "50",
        "Author": phone,
        "Body": "dup test",
        "Attributes": "{}",
        "DateCreated": "2026-01-01T00:00:00Z",
    }
    delivered = {
        "EventType": "onDeliveryUpdated",
        "ConversationSid": sid,
        "MessageSid": msg["MessageSid"],
        "DeliveryReceiptSid": "DY" + "1" * 32,
        "Status": "delivered",
    }
    sent = dict(delivered, Status="sent")
    # receipt first (reordered), then the message twice, then an older receipt
    assert _signed_post(relay, "/TwilioWebhooks/sync", delivered).status_code == 200
    assert _signed_post(relay, "/TwilioWebhooks/sync", msg).status_code == 200
    assert _signed_post(relay, "/TwilioWebhooks/sync", msg).status_code == 200
    assert _signed_post(relay, "/TwilioWebhooks/sync", sent).status_code == 200
    m = message_store.get_message(relay.tables, sid, msg["MessageSid"])
    assert m is not None and m["Status"] == "delivered" and m["Body"] == "dup test"
    assert not m.get("Placeholder")
    after = conversation_store.get_conversation(relay.tables, sid)
    assert after is not None and after["UnreadCount"] == before["UnreadCount"] + 1
    failed = dict(delivered, DeliveryReceiptSid="DY" + "2" * 32, Status="failed", ErrorCode="30003")
    _signed_post(relay, "/TwilioWebhooks/sync", failed)
    _signed_post(relay, "/TwilioWebhooks/sync", dict(delivered, DeliveryReceiptSid="DY" + "3" * 32))
    m = message_store.get_message(relay.tables, sid, msg["MessageSid"])
    assert m is not None and m["Status"] == "failed" and m["ErrorCode"] == 30003


def test_close_webhook_only_on_closed(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    form = {
        "EventType": "onConversationStateUpdated",
        "ConversationSid": sid,
        "StateFrom": "active",
        "StateTo": "inactive",
        "StateUpdated": "2026-01-01T00:00:00Z",
    }
    assert _signed_post(relay, "/TwilioWebhooks/close", form).status_code == 200
    assert status(relay, seed, lead_id)["Status"] == "ACTIVE"
    assert (conversation_store.get_conversation(relay.tables, sid) or {})["State"] == "inactive"
    # a new lead reactivates the conversation
    b = synced(relay, seed, create(relay, seed, phone))
    assert (
        sid_of(b) == sid
        and (conversation_store.get_conversation(relay.tables, sid) or {})["State"] == "active"
    )
    # Twilio's timer closes it: the close webhook closes both leads
    sim.state.update_conversation(sid, {"State": "closed"}, "true")
    s = wait_for(
        lambda: (lambda st: st if st["Status"] == "CLOSED" else None)(status(relay, seed, lead_id)),
        what="closed by webhook",
    )
    assert s["CloseReason"] == "Inactivity"
    synced(relay, seed, b["LeadId"], want="CLOSED")
    assert status(relay, seed, b["LeadId"])["CloseReason"] == "Inactivity"


def test_reconcile_repairs_missed_webhooks(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    from app.relay.background import reconcile

    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    # The webhook is lost: the relay's sync webhook is removed at the simulator first.
    for hook in list(sim.state.get_conversation(sid).webhooks.values()):
        hook.url = "http://127.0.0.1:9/nowhere"
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": phone, "to": conv["CustomerProxy"], "body": "lost?"},
    )
    sim.wait_idle()
    assert not [m for m in message_store.list_messages(relay.tables, sid) if m["Body"] == "lost?"]
    stats = reconcile(relay.ctx, force=True)
    assert stats["messages"] >= 1
    got = [m for m in message_store.list_messages(relay.tables, sid) if m["Body"] == "lost?"]
    assert len(got) == 1 and got[0]["AuthorKind"] == "customer"
    assert (lead_store.get_lead(relay.tables, lead_id) or {}).get("PipelineStatus") == "engaged"
    sim.state.update_conversation(sid, {"State": "closed"}, None)  # no webhook at all
    reconcile(relay.ctx, force=True)
    assert status(relay, seed, lead_id)["Status"] == "CLOSED"


def test_twilio_faults_retried_without_duplicates(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    """429s and 5xx whose request already took effect: bounded retries, look-before-
    resend, and the sweeper's retry still give one conversation and one greeting each."""
    location = seed_location(relay, seed.retailer_id, "+13125550194", name="Faulty")
    phones = [new_phone() for _ in range(3)]
    r = httpx.post(
        sim.url + "/_sim/faults", json={"rate_429": 0.15, "rate_5xx_after_commit": 0.15, "seed": 11}
    )
    assert r.status_code == 200, r.text
    try:
        ids = [create(relay, seed, p, location=location) for p in phones]
        states = [synced(relay, seed, i, tolerate_error=True, timeout=60) for i in ids]
    finally:
        httpx.post(sim.url + "/_sim/faults", json={})
    sim.wait_idle()
    for phone, state in zip(phones, states, strict=True):
        convs = [
            c
            for c in sim.state.list_conversations()
            if any(p.address == phone for p in c.participants.values())
        ]
        assert len(convs) == 1 and convs[0].sid == sid_of(state)
        assert len([p for p in convs[0].participants.values() if p.address]) == 2
        assert len(convs[0].webhooks) == 2
        assert len([b for b in bodies(sim, phone) if b.startswith("Hi Robin")]) == 1


class _Broken:
    name = "Broken"

    def applies(self, ctx: Any, lead: Any) -> bool:
        return True

    def create(self, ctx: Any, lead: Any) -> dict[str, Any]:
        raise RuntimeError("the other system is down")

    sync = create

    def close(self, ctx: Any, lead: Any, reason: str) -> dict[str, Any]:
        return {}


class _NotApplicable(_Broken):
    name = "Never"

    def applies(self, ctx: Any, lead: Any) -> bool:
        return False


def test_failing_integration_does_not_block_twilio(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    usual = relay.ctx.integrations
    relay.ctx.integrations = [_Broken(), _NotApplicable(), *usual]  # type: ignore[list-item]
    try:
        lead_id = create(relay, seed, new_phone())
        state = synced(relay, seed, lead_id)
    finally:
        relay.ctx.integrations = usual
    broken = state["Integrations"]["Broken"]
    assert broken["SyncStatus"] == "ERROR" and "down" in broken["ErrorInfo"]["Message"]
    assert "Never" not in state["Integrations"]
    assert state["Status"] == "ACTIVE"


def test_sweeper_two_instances_resume_once(dynamodb_endpoint: str, sim: SimHandle) -> None:
    """A lead left pending by a dead instance: two instances sweep at once, one resumes.
    Both are started without background workers (their own tables, not the module
    relay's, whose sweeper would otherwise race them for the lead)."""
    relay = start_relay(dynamodb_endpoint, sim, background=False, register_inbound=False)
    other = start_relay(
        dynamodb_endpoint,
        sim,
        prefix=relay.settings.table_prefix,
        background=False,
        register_inbound=False,
    )
    try:
        seed = seed_dealer(relay, web2text_number="+13125550195", pool=sim.pool)
        phone = new_phone()
        lead_id = str(uuid.uuid4())
        r = httpx.post(
            relay.url + f"/Lead/{lead_id}/create",
            headers={"Authorization": seed.lead_key},
            json={
                "UniversalRetailerId": seed.retailer_id,
                "SyncImmediately": False,
                "Lead": {
                    "LocationId": seed.location_id,
                    "PageUrl": "https://a.example",
                    "Name": "Robin Buyer",
                    "PhoneNumber": phone,
                    "CustomerMessage": "x",
                },
            },
        )
        assert r.status_code == 200
        # what a crashed instance leaves behind: pending with an expired lease
        relay.tables.leads.update_item(
            Key={"LeadId": lead_id},
            UpdateExpression="SET PendingShard = :p, PendingAt = :t, PendingOp = :op",
            ExpressionAttributeValues={":p": "P", ":t": 1, ":op": "create"},
        )
        results: list[int] = []
        barrier = threading.Barrier(2)

        def sweep(handle: RelayHandle) -> None:
            barrier.wait()
            results.append(handle.ctx.leads.sweep())

        threads = [threading.Thread(target=sweep, args=(h,)) for h in (relay, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        synced(relay, seed, lead_id)
        assert sum(results) == 1  # one of the two took it; the other found it taken
        sim.wait_idle()
        assert len([b for b in bodies(sim, phone) if b.startswith("Hi Robin")]) == 1
    finally:
        other.stop()
        relay.stop()


def test_simulator_duplicates_and_reorders_webhooks(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    sim.wait_idle()
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    r = httpx.post(
        sim.url + "/_sim/faults",
        json={"webhook_duplicate_rate": 1.0, "webhook_reorder_rate": 0.5, "seed": 3},
    )
    assert r.status_code == 200
    try:
        for text in ("one", "two", "three"):
            httpx.post(
                sim.url + "/_sim/inbound",
                json={"from": phone, "to": conv["CustomerProxy"], "body": text},
            )
        sim.wait_idle(timeout=20)
    finally:
        httpx.post(sim.url + "/_sim/faults", json={})
    msgs = [
        m for m in message_store.list_messages(relay.tables, sid) if m["AuthorKind"] == "customer"
    ]
    assert sorted(m["Body"] for m in msgs) == ["one", "three", "two"]
    after = conversation_store.get_conversation(relay.tables, sid)
    assert after is not None and after["UnreadCount"] == 3
    lead = lead_store.get_lead(relay.tables, lead_id)
    assert lead is not None and len([a for a in lead["Activity"] if a["kind"] == "inbound"]) == 3


def test_logs_mask_phones_and_never_show_keys(
    relay: RelayHandle,
    seed: Seed,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    # An in-process demo started earlier in the same test run quiets the "app" loggers;
    # this test is about what the relay writes when it does log.
    for name in ("app", "app.relay"):
        caplog.set_level(logging.INFO, logger=name)
    phone = new_phone()
    capsys.readouterr()
    create(relay, seed, phone)
    httpx.get(relay.url + "/Lead/x/status", headers={"Authorization": "Bearer secret-key-123"})
    logging.getLogger("app.relay.test").info("texting %s", phone, extra={"to": phone})
    out = capsys.readouterr().err
    assert '"logger": "app.relay.test"' in out and '"request_id"' in out
    assert phone not in out and "secret-key-123" not in out and seed.lead_key not in out
    assert f"***-**{phone[-2:]}" in out


def test_effects_finished_after_crash_between_store_and_effects(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    """A message stored by an instance that died before updating the conversation
    and the leads: Twilio's retry of the webhook finishes the job, once."""
    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    sim.wait_idle()
    before = conversation_store.get_conversation(relay.tables, sid)
    assert before is not None
    msg_sid = "IM" + "e" * 32
    relay.tables.messages.put_item(
        Item={
            "ConversationSid": sid,
            "MessageSid": msg_sid,
            "Author": phone,
            "AuthorKind": "customer",
            "Body": "half done",
            "Status": "delivered",
            "LocationId": seed.location_id,
            "CreatedAt": "2026-01-01T00:00:00Z",
            "Version": 1,
            "EffectsPending": int(time.time()) - 60,
        }
    )
    form = {
        "EventType": "onMessageAdded",
        "ConversationSid": sid,
        "MessageSid": msg_sid,
        "Index": "60",
        "Author": phone,
        "Body": "half done",
        "Attributes": "{}",
        "DateCreated": "2026-01-01T00:00:00Z",
    }
    assert _signed_post(relay, "/TwilioWebhooks/sync", form).status_code == 200
    assert _signed_post(relay, "/TwilioWebhooks/sync", form).status_code == 200
    after = conversation_store.get_conversation(relay.tables, sid)
    assert after is not None and after["UnreadCount"] == before["UnreadCount"] + 1
    assert after[versioned.EFFECTS_ATTR].count(msg_sid) == 1
    lead = lead_store.get_lead(relay.tables, lead_id) or {}
    assert lead.get("PipelineStatus") == "engaged"
    assert [a["text"] for a in lead["Activity"]].count("half done") == 1
    assert lead[versioned.EFFECTS_ATTR].count(msg_sid) == 1


def test_reconcile_finishes_a_message_whose_lead_effect_was_lost(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    """The instance died after the conversation's update and before the lead's, and
    Twilio did not redeliver: the reconcile applies the lead's part, once, and
    leaves the conversation's alone."""
    from app.relay.background import reconcile

    phone = new_phone()
    lead_id = create(relay, seed, phone)
    sid = sid_of(synced(relay, seed, lead_id))
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    httpx.post(
        sim.url + "/_sim/inbound",
        json={"from": phone, "to": conv["CustomerProxy"], "body": "half way"},
    )
    sim.wait_idle()
    deadline = time.monotonic() + 10
    while not (
        msgs := [
            m for m in message_store.list_messages(relay.tables, sid) if m["Body"] == "half way"
        ]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    msg_sid = msgs[0]["MessageSid"]
    # the crash, after the fact: the lead's part undone, the message 60 s old
    lead_store.update_lead(
        relay.tables,
        lead_id,
        lambda cur: {
            "Activity": [a for a in cur["Activity"] if a["text"] != "half way"],
            versioned.EFFECTS_ATTR: [s for s in cur[versioned.EFFECTS_ATTR] if s != msg_sid],
            "LastInboundAt": None,
        },
    )
    message_store.update_message(
        relay.tables, sid, msg_sid, lambda cur: {"EffectsPending": int(time.time()) - 60}
    )
    unread = (conversation_store.get_conversation(relay.tables, sid) or {})["UnreadCount"]
    for _ in range(2):
        reconcile(relay.ctx, force=True)
        lead = lead_store.get_lead(relay.tables, lead_id) or {}
        assert [a["text"] for a in lead["Activity"]].count("half way") == 1
        assert lead[versioned.EFFECTS_ATTR].count(msg_sid) == 1 and lead.get("LastInboundAt")
        after = conversation_store.get_conversation(relay.tables, sid) or {}
        assert after["UnreadCount"] == unread
        assert after[versioned.EFFECTS_ATTR].count(msg_sid) == 1

"""One lead, one step at a time (issue #13): a close that meets a running create or
sync stops it before its next text, on the same relay instance or another one,
whichever handler asks (the lead API, the close webhook, admin bulk); `sync`
answers after its integrations ran. The interleavings are forced with the relay's
checkpoint (`ctx.checkpoint`, a no-op in production, the same hook the crash tests
use): the running request is held at a named step while the other one is sent,
and let go once that one has recorded its close."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from app.relay import lead_store
from app.relay.context import no_checkpoint
from app.sandbox.twilio_sim import SimHandle, compute_signature, start_simulator
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay

SIM_SID = "AC" + "6" * 32
SIM_TOKEN = "serial-token"
POOL = [f"+1{area}55502{i:02d}" for area in ("312", "415", "212") for i in range(8)]
HOLD_S = 30.0  # a step is never held longer than this (a stuck test fails instead)


class StepGate:
    """A `ctx.checkpoint`: holds the first request that reaches `hold` until `proceed`
    is set, and signals every step reached (`seen(step)`)."""

    def __init__(self, hold: str | None = None) -> None:
        self.hold = hold
        self.reached = threading.Event()
        self.proceed = threading.Event()
        self._mutex = threading.Lock()
        self._seen: dict[str, threading.Event] = {}

    def seen(self, step: str) -> threading.Event:
        with self._mutex:
            return self._seen.setdefault(step, threading.Event())

    def __call__(self, step: str) -> None:
        self.seen(step).set()
        if step == self.hold and not self.reached.is_set():
            self.reached.set()
            if not self.proceed.wait(HOLD_S):
                raise RuntimeError(f"step {step} was never let go")


class Call(threading.Thread):
    """An HTTP request in its own thread (it blocks while the lead is held)."""

    def __init__(self, fn: Callable[[], httpx.Response]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.response: httpx.Response | None = None
        self.start()

    def run(self) -> None:
        self.response = self.fn()

    def result(self) -> httpx.Response:
        self.join(HOLD_S * 2)
        assert self.response is not None, "the request never answered"
        return self.response


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, background=False, stuck_after_s=3.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def other(dynamodb_endpoint: str, sim: SimHandle, relay: RelayHandle) -> Iterator[RelayHandle]:
    """A second relay instance on the same tables."""
    handle = start_relay(
        dynamodb_endpoint,
        sim,
        prefix=relay.settings.table_prefix,
        background=False,
        register_inbound=False,
        stuck_after_s=3.0,
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550290", pool=sim.pool)


@pytest.fixture(autouse=True)
def no_hooks(relay: RelayHandle, other: RelayHandle) -> Iterator[None]:
    yield
    relay.ctx.checkpoint = no_checkpoint
    other.ctx.checkpoint = no_checkpoint


_phones = iter(range(1000, 9999))


def new_phone() -> str:
    return f"+1415555{next(_phones):04d}"


def post(
    relay: RelayHandle, seed: Seed, path: str, body: Any = None, timeout: float = 60
) -> httpx.Response:
    return httpx.post(
        relay.url + path, headers={"Authorization": seed.lead_key}, json=body, timeout=timeout
    )


def shopper(phone: str) -> str:
    """The lead's name: the store's texts of each test are told apart by it."""
    return f"Sam Q{phone[-4:]}"


def create(relay: RelayHandle, seed: Seed, phone: str, *, sync: bool) -> str:
    lead_id = str(uuid.uuid4())
    r = post(
        relay,
        seed,
        f"/Lead/{lead_id}/create",
        {
            "UniversalRetailerId": seed.retailer_id,
            "SyncImmediately": sync,
            "Lead": {
                "LocationId": seed.location_id,
                "PageUrl": "https://a.example",
                "Name": shopper(phone),
                "PhoneNumber": phone,
                "CustomerMessage": "Do you have oak?",
            },
        },
    )
    assert r.status_code == 200, r.text
    return lead_id


def assert_closed(state: dict[str, Any], reason: str) -> None:
    assert state["Status"] == "CLOSED" and state["CloseReason"] == reason, state
    assert state["Integrations"], state
    for name, integration in state["Integrations"].items():
        assert integration["SyncStatus"] == "CLOSED", (name, integration)


def conversations_of(sim: SimHandle, phone: str) -> list[Any]:
    with sim.state.lock:
        return [
            c
            for c in sim.state.list_conversations()
            if any(p.address == phone for p in c.participants.values())
        ]


def bodies(sim: SimHandle, phone: str) -> list[str]:
    sim.wait_idle()
    return [m["body"] for m in sim.handset(phone)]


def hold_then_close(
    holder: RelayHandle, gate: StepGate, close: Callable[[], Any], asked_on: RelayHandle
) -> Any:
    """While `holder` is held at the gate's step: send `close` (to `asked_on`), wait
    until it recorded its close, then let the held request go on."""
    assert gate.reached.wait(HOLD_S), f"{gate.hold} never reached"
    asked = gate if asked_on is holder else StepGate()
    if asked_on is not holder:
        asked_on.ctx.checkpoint = asked
    result = close()
    assert asked.seen("close_requested").wait(HOLD_S), "the close was never recorded"
    gate.proceed.set()
    return result


# --------------------------------------------------------------------------- tests


def test_sync_answers_after_its_integrations_ran(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    r = post(relay, seed, f"/Lead/{lead_id}/sync")
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["Status"] == "ACTIVE"
    twilio = state["Integrations"]["Twilio"]
    assert twilio["SyncStatus"] == "SYNCED" and twilio["Data"]["ConversationSID"]
    assert twilio["Data"]["ConversationStatus"] == "active"
    assert [b for b in bodies(sim, phone) if b.startswith("Hi Sam")], "no greeting yet"


def test_sync_send_answers_at_once(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    gate = StepGate(hold="before_join")
    relay.ctx.checkpoint = gate
    r = post(relay, seed, f"/Lead/{lead_id}/sync/send")
    assert r.status_code == 202 and r.json()["status"] == "Accepted"
    assert gate.reached.wait(HOLD_S)  # answered while the sync is held mid-way
    assert (lead_store.get_lead(relay.tables, lead_id) or {})["Status"] == "SYNCING"
    gate.proceed.set()
    relay.ctx.checkpoint = no_checkpoint
    # the sync ends by itself; the lead's lock is let go
    r = post(relay, seed, f"/Lead/{lead_id}/sync")
    assert r.status_code == 200 and r.json()["Integrations"]["Twilio"]["SyncStatus"] == "SYNCED"
    assert len([b for b in bodies(sim, phone) if b.startswith("Hi Sam")]) == 1


def test_close_racing_sync_stops_it_before_the_greeting(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    gate = StepGate(hold="before_greeting")
    relay.ctx.checkpoint = gate
    sync = Call(lambda: post(relay, seed, f"/Lead/{lead_id}/sync"))
    close = hold_then_close(
        relay,
        gate,
        lambda: Call(lambda: post(relay, seed, f"/Lead/{lead_id}/close", {"reason": "Sold"})),
        relay,
    )
    closed = close.result()
    assert closed.status_code == 200, closed.text
    assert_closed(closed.json(), "Sold")
    assert closed.json()["Integrations"]["Twilio"]["Data"]["ConversationStatus"] == "closed"
    # the preempted sync answers the lead as the close left it
    answered = sync.result()
    assert answered.status_code == 200 and answered.json()["Status"] == "CLOSED"
    assert bodies(sim, phone) == []  # not one text reached the customer
    store_texts = bodies(sim, seed.web2text_number)
    assert any(shopper(phone) in b for b in store_texts)  # the details went before
    assert any("this lead was closed (Sold)" in b for b in store_texts)
    (conv,) = conversations_of(sim, phone)
    assert conv.state == "closed"


def test_close_racing_create_opens_no_conversation(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    gate = StepGate(hold="before_conversation_create")
    relay.ctx.checkpoint = gate
    lead_id = create(relay, seed, phone, sync=True)  # answers at once; processing held
    close = hold_then_close(
        relay,
        gate,
        lambda: Call(lambda: post(relay, seed, f"/Lead/{lead_id}/close")),
        relay,
    )
    closed = close.result()
    assert closed.status_code == 200, closed.text
    assert_closed(closed.json(), "Not specified")
    assert conversations_of(sim, phone) == []
    assert bodies(sim, phone) == []
    # the pair it had claimed is given up: the next lead of that phone gets its
    # conversation and one greeting
    relay.ctx.checkpoint = no_checkpoint
    again = create(relay, seed, phone, sync=False)
    r = post(relay, seed, f"/Lead/{again}/sync")
    assert r.status_code == 200 and r.json()["Integrations"]["Twilio"]["SyncStatus"] == "SYNCED"
    assert len([b for b in bodies(sim, phone) if b.startswith("Hi Sam")]) == 1


def test_close_on_another_instance_waits_for_the_running_sync(
    relay: RelayHandle, other: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    gate = StepGate(hold="before_details")
    relay.ctx.checkpoint = gate
    sync = Call(lambda: post(relay, seed, f"/Lead/{lead_id}/sync"))
    close = hold_then_close(
        relay,
        gate,
        lambda: Call(lambda: post(other, seed, f"/Lead/{lead_id}/close", {"reason": "Dup"})),
        other,
    )
    closed = close.result()
    assert closed.status_code == 200, closed.text
    assert_closed(closed.json(), "Dup")
    assert sync.result().json()["Status"] == "CLOSED"
    assert bodies(sim, phone) == []
    assert not any(shopper(phone) in b for b in bodies(sim, seed.web2text_number))


def test_close_webhook_during_a_sync_closes_it_without_a_text(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    gate = StepGate(hold="before_greeting")
    relay.ctx.checkpoint = gate
    sync = Call(lambda: post(relay, seed, f"/Lead/{lead_id}/sync"))
    assert gate.reached.wait(HOLD_S)
    lead = lead_store.get_lead(relay.tables, lead_id) or {}
    sid = lead["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    form = {
        "EventType": "onConversationStateUpdated",
        "ConversationSid": sid,
        "StateFrom": "active",
        "StateTo": "closed",
        "StateUpdated": "2026-01-01T00:00:00Z",
    }
    path = "/TwilioWebhooks/close"
    signature = compute_signature(SIM_TOKEN, relay.settings.public_url + path, form)
    # the webhook does not wait for the held sync: it records the close and answers
    r = httpx.post(
        relay.url + path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert gate.seen("close_requested").is_set()
    gate.proceed.set()
    answered = sync.result()  # the holder ran the close before letting go
    assert answered.status_code == 200
    assert_closed(answered.json(), "Inactivity")
    assert bodies(sim, phone) == []


def test_bulk_close_during_a_sync(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    gate = StepGate(hold="before_greeting")
    relay.ctx.checkpoint = gate
    sync = Call(lambda: post(relay, seed, f"/Lead/{lead_id}/sync"))
    bulk = hold_then_close(
        relay,
        gate,
        lambda: Call(
            lambda: post(
                relay,
                seed,
                "/Admin/bulk",
                {"Operation": "CLOSE", "Filter": {"LeadId": lead_id}, "Verbose": True},
            )
        ),
        relay,
    )
    r = bulk.result()
    assert r.status_code == 200 and r.json()["Count"] == 1, r.text
    assert_closed(r.json()["Result"][0], "Closed by bulk operation")
    assert sync.result().json()["Status"] == "CLOSED"
    assert bodies(sim, phone) == []


def test_close_of_a_lead_never_synced_closes_every_integration(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create(relay, seed, phone, sync=False)
    r = post(relay, seed, f"/Lead/{lead_id}/close", {"reason": "Spam"})
    assert r.status_code == 200, r.text
    assert_closed(r.json(), "Spam")  # Twilio was NOT SYNCED: it ends CLOSED too
    assert conversations_of(sim, phone) == [] and bodies(sim, phone) == []
    # the lock is let go: nothing of the lead is left pending or held
    item = lead_store.get_lead(relay.tables, lead_id) or {}
    assert not {"LockOwner", "PendingShard", "CloseRequested"} & set(item), item

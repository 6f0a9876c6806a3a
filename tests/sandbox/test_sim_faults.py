"""Each fault of POST /_sim/faults, seen through the twilio SDK and real receivers."""

from __future__ import annotations

import time

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.helpers import CUSTOMER, STORE, add_webhook, pair_conversation, set_faults
from tests.support.twilio_sim import WebhookRecorder, sim_client


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


def test_latency(client: Client, twilio_sim: SimHandle) -> None:
    # A long latency, so "no latency once cleared" is told apart by seconds that a
    # busy machine does not lose on one request (a lower bound holds anywhere).
    set_faults(twilio_sim, {"latency_ms": 3000})
    start = time.monotonic()
    client.conversations.v1.conversations.create()
    assert time.monotonic() - start >= 3.0
    set_faults(twilio_sim, {})
    start = time.monotonic()
    client.conversations.v1.conversations.create()
    assert time.monotonic() - start < 3.0


def test_rate_429(client: Client, twilio_sim: SimHandle) -> None:
    set_faults(twilio_sim, {"rate_429": 1})
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations.create()
    assert exc.value.status == 429 and exc.value.code == 20429
    raw = httpx.post(
        f"{twilio_sim.url}/v1/Conversations", auth=(twilio_sim.account_sid, twilio_sim.auth_token)
    )
    assert raw.headers["retry-after"] == "1"
    assert raw.json()["more_info"] == "https://www.twilio.com/docs/errors/20429"
    set_faults(twilio_sim, {})
    assert twilio_sim.state.list_conversations() == []  # nothing happened behind the 429
    client.conversations.v1.conversations.create()


def test_rate_5xx_before_and_after_commit(client: Client, twilio_sim: SimHandle) -> None:
    set_faults(twilio_sim, {"rate_5xx": 1, "seed": 7})
    seen = set()
    for _ in range(8):
        with pytest.raises(TwilioRestException) as exc:
            client.conversations.v1.conversations.create()
        seen.add((exc.value.status, exc.value.code))
    assert seen == {(500, 20500), (503, 20503)}
    assert twilio_sim.state.list_conversations() == []

    set_faults(twilio_sim, {"rate_5xx_after_commit": 1})
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations.create(friendly_name="ghost")
    assert exc.value.status == 500
    set_faults(twilio_sim, {})
    assert [c.friendly_name for c in client.conversations.v1.conversations.list()] == ["ghost"]


def test_seed_makes_faults_repeatable(twilio_sim: SimHandle) -> None:
    auth = (twilio_sim.account_sid, twilio_sim.auth_token)

    def pattern() -> list[int]:
        set_faults(twilio_sim, {"rate_429": 0.5, "seed": 42})
        with httpx.Client(auth=auth) as http:
            return [http.get(f"{twilio_sim.url}/v1/Conversations").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert set(first) == {200, 429}


def test_carrier_errors(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    set_faults(twilio_sim, {"carrier_errors": {STORE: 30003, CUSTOMER: 30001}})
    conv = pair_conversation(client)
    add_webhook(client, conv, f"{webhook_recorder.url}/sync", ["onDeliveryUpdated"])
    client.conversations.v1.conversations(conv).messages.create(body="will not arrive")
    events = webhook_recorder.wait_for(4, event="onDeliveryUpdated")
    final = {
        e.form["Status"]: e.form.get("ErrorCode") for e in events if e.form["Status"] != "sent"
    }
    assert final == {"undelivered": "30003", "failed": "30001"}
    twilio_sim.wait_idle()
    assert twilio_sim.handset(STORE) == [] and twilio_sim.handset(CUSTOMER) == []


def test_webhook_duplicates_share_an_idempotency_token(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = pair_conversation(client)
    url = f"{webhook_recorder.url}/sync"
    add_webhook(client, conv, url, ["onMessageAdded"])
    set_faults(twilio_sim, {"webhook_duplicate_rate": 1})
    client.conversations.v1.conversations(conv).messages.create(
        body="twice", x_twilio_webhook_enabled="true"
    )
    first, second = webhook_recorder.wait_for(2, event="onMessageAdded")
    assert first.form == second.form
    assert (
        first.headers["i-twilio-idempotency-token"] == second.headers["i-twilio-idempotency-token"]
    )
    assert first.signature_valid(twilio_sim.auth_token, url)
    assert second.signature_valid(twilio_sim.auth_token, url)


def test_webhook_reordering(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = pair_conversation(client)
    add_webhook(client, conv, f"{webhook_recorder.url}/sync", ["onMessageAdded"])
    api = client.conversations.v1.conversations(conv)
    set_faults(twilio_sim, {"webhook_reorder_rate": 1})
    api.messages.create(body="first", x_twilio_webhook_enabled="true")
    set_faults(twilio_sim, {})
    api.messages.create(body="second", x_twilio_webhook_enabled="true")
    events = webhook_recorder.wait_for(2, event="onMessageAdded")
    assert [e.form["Body"] for e in events] == ["second", "first"]
    assert [e.form["Index"] for e in events] == ["1", "0"]


def test_invalid_faults_are_rejected(twilio_sim: SimHandle) -> None:
    for body in (
        {"rate_429": 2},
        {"latency_ms": -1},
        {"carrier_errors": {"12": 30003}},
        {"carrier_errors": {STORE: "x"}},
        {"bogus": 1},
        {"seed": "x"},
        [1],
    ):
        r = httpx.post(f"{twilio_sim.url}/_sim/faults", json=body)
        assert r.status_code == 400, body
        assert r.json()["reason"] == "invalid_faults"
    set_faults(twilio_sim, {"rate_429": 0.25, "carrier_errors": {STORE: 30007}})
    assert httpx.get(f"{twilio_sim.url}/_sim/faults").json()["faults"]["rate_429"] == 0.25
    set_faults(twilio_sim, {})
    assert httpx.get(f"{twilio_sim.url}/_sim/faults").json()["faults"]["carrier_errors"] == {}

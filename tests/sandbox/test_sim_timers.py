"""Conversation timers really move the state, with onConversationStateUpdated."""

from __future__ import annotations

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.helpers import CUSTOMER, P1, add_webhook, pair_conversation, text
from tests.support.twilio_sim import WebhookRecorder, running_simulator, sim_client, wait_until


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


def _tick(sim: SimHandle, seconds: float) -> dict[str, object]:
    r = httpx.post(f"{sim.url}/_sim/tick", json={"seconds": seconds})
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


def test_timers_move_active_inactive_closed_and_free_pairs(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    url = f"{webhook_recorder.url}/TwilioWebhooks/close"
    conv = pair_conversation(client, timers_inactive="PT1M", timers_closed="PT10M")
    add_webhook(client, conv, url, ["onConversationStateUpdated"])
    fetched = client.conversations.v1.conversations(conv).fetch()
    assert fetched.timers["date_inactive"] and fetched.timers["date_closed"]

    assert _tick(twilio_sim, 30)["changed"] == 0
    assert client.conversations.v1.conversations(conv).fetch().state == "active"
    assert _tick(twilio_sim, 31)["changed"] == 1
    assert client.conversations.v1.conversations(conv).fetch().state == "inactive"
    first = webhook_recorder.wait_for(1, event="onConversationStateUpdated")[0]
    assert (first.form["StateFrom"], first.form["StateTo"]) == ("active", "inactive")
    assert first.form["Reason"] == "TIMER"
    assert first.form["ConversationSid"] == conv
    assert first.signature_valid(twilio_sim.auth_token, url)

    # Still bound while inactive.
    with pytest.raises(TwilioRestException) as exc:
        other = client.conversations.v1.conversations.create().sid
        client.conversations.v1.conversations(other).participants.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
        )
    assert exc.value.code == 50416

    _tick(twilio_sim, 600)
    assert client.conversations.v1.conversations(conv).fetch().state == "closed"
    second = webhook_recorder.wait_for(2, event="onConversationStateUpdated")[1]
    assert (second.form["StateFrom"], second.form["StateTo"]) == ("inactive", "closed")
    assert second.signature_valid(twilio_sim.auth_token, url)

    fresh = client.conversations.v1.conversations.create().sid
    client.conversations.v1.conversations(fresh).participants.create(
        messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
    )
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations(conv).messages.create(body="too late")
    assert exc.value.status == 409


def test_activity_restarts_timers_and_wakes_inactive_conversations(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = pair_conversation(client, timers_inactive="PT1M")
    add_webhook(client, conv, f"{webhook_recorder.url}/close", ["onConversationStateUpdated"])
    _tick(twilio_sim, 50)
    client.conversations.v1.conversations(conv).messages.create(body="keep alive")
    _tick(twilio_sim, 50)
    assert client.conversations.v1.conversations(conv).fetch().state == "active"
    _tick(twilio_sim, 15)
    assert client.conversations.v1.conversations(conv).fetch().state == "inactive"

    text(twilio_sim, CUSTOMER, P1, "hello again")  # an inbound text wakes it up
    assert client.conversations.v1.conversations(conv).fetch().state == "active"
    events = webhook_recorder.wait_for(2, event="onConversationStateUpdated")
    assert [(e.form["StateFrom"], e.form["StateTo"]) for e in events] == [
        ("active", "inactive"),
        ("inactive", "active"),
    ]


def test_api_state_change_fires_webhook_with_header(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = pair_conversation(client)
    add_webhook(client, conv, f"{webhook_recorder.url}/close", ["onConversationStateUpdated"])
    client.conversations.v1.conversations(conv).update(
        state="closed", x_twilio_webhook_enabled="true"
    )
    event = webhook_recorder.wait_for(1, event="onConversationStateUpdated")[0]
    assert event.form["StateTo"] == "closed" and event.form["Reason"] == "API"
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations(conv).update(state="active")
    assert exc.value.status == 400


def test_timers_run_on_their_own_in_real_time(webhook_recorder: WebhookRecorder) -> None:
    # time_scale=60: PT1M of simulated time passes in one real second.
    with running_simulator(time_scale=60) as sim:
        client = sim_client(sim)
        conv = client.conversations.v1.conversations.create(
            timers_inactive="PT1M", timers_closed="PT2M"
        ).sid
        add_webhook(client, conv, f"{webhook_recorder.url}/close", ["onConversationStateUpdated"])
        events = webhook_recorder.wait_for(2, event="onConversationStateUpdated", timeout=6)
        assert [e.form["StateTo"] for e in events] == ["inactive", "closed"]
        wait_until(lambda: client.conversations.v1.conversations(conv).fetch().state == "closed")


def test_bad_timer_values_are_rejected(client: Client, twilio_sim: SimHandle) -> None:
    for value in ("10 minutes", "P", "PT0S"):
        with pytest.raises(TwilioRestException) as exc:
            client.conversations.v1.conversations.create(timers_inactive=value)
        assert exc.value.status == 400
    r = httpx.post(f"{twilio_sim.url}/_sim/tick", json={"seconds": -1})
    assert r.status_code == 400 and r.json()["reason"] == "invalid_tick"

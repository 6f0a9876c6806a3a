"""Webhook delivery: retries, bounded attempts, timeouts, every event kind signed."""

from __future__ import annotations

import httpx
import pytest
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle, compute_signature
from tests.sandbox.helpers import CUSTOMER, P1, add_webhook, pair_conversation, text
from tests.support.twilio_sim import (
    WebhookRecorder,
    running_simulator,
    sim_client,
)


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
        ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ],
)
def test_signature_matches_twilio_reference_vectors(caller: str, expected: str) -> None:
    # The published request-validation example (auth token "12345"): an independent check
    # that the simulator does not merely agree with itself.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": caller,
        "Digits": "1234",
        "From": caller,
        "To": "+18005551212",
    }
    assert compute_signature("12345", url, params) == expected


def test_failed_deliveries_are_retried_with_the_same_token(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    url = f"{webhook_recorder.url}/sync"
    conv = pair_conversation(client)
    add_webhook(client, conv, url, ["onMessageAdded"])
    webhook_recorder.fail_next(2, status=503)
    client.conversations.v1.conversations(conv).messages.create(
        body="retry me", x_twilio_webhook_enabled="true"
    )
    attempts = webhook_recorder.wait_for(3, event="onMessageAdded")
    assert [a.form["RetryCount"] for a in attempts] == ["0", "1", "2"]
    assert len({a.headers["i-twilio-idempotency-token"] for a in attempts}) == 1
    assert all(a.signature_valid(twilio_sim.auth_token, url) for a in attempts)
    twilio_sim.wait_idle()
    assert len(webhook_recorder.requests(event="onMessageAdded")) == 3


def test_retries_are_bounded_and_client_errors_are_final(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = pair_conversation(client)
    add_webhook(client, conv, f"{webhook_recorder.url}/sync", ["onMessageAdded"])
    api = client.conversations.v1.conversations(conv)
    webhook_recorder.fail_next(100, status=500)
    api.messages.create(body="never accepted", x_twilio_webhook_enabled="true")
    twilio_sim.wait_idle()
    assert len(webhook_recorder.requests(event="onMessageAdded")) == 3  # webhook_max_attempts

    webhook_recorder.clear()
    webhook_recorder.fail_next(100, status=403)
    api.messages.create(body="bad signature, says the receiver", x_twilio_webhook_enabled="true")
    twilio_sim.wait_idle()
    assert len(webhook_recorder.requests(event="onMessageAdded")) == 1


def test_slow_receiver_times_out_and_is_retried(webhook_recorder: WebhookRecorder) -> None:
    with running_simulator(webhook_timeout=0.3, webhook_max_attempts=2) as sim:
        client = sim_client(sim)
        conv = pair_conversation(client)
        add_webhook(client, conv, f"{webhook_recorder.url}/sync", ["onMessageAdded"])
        webhook_recorder.delay = 0.6
        client.conversations.v1.conversations(conv).messages.create(
            body="slow", x_twilio_webhook_enabled="true"
        )
        attempts = webhook_recorder.wait_for(2, event="onMessageAdded")
        assert [a.form["RetryCount"] for a in attempts] == ["0", "1"]
        timeouts = [d for d in sim.runtime.dispatcher.deliveries if d.error]
        assert timeouts and timeouts[0].error == "ReadTimeout"


def test_every_event_kind_is_signed(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    url = f"{webhook_recorder.url}/all"
    twilio_sim.set_webhook_url(f"{webhook_recorder.url}/in")
    conv = client.conversations.v1.conversations.create().sid
    add_webhook(
        client,
        conv,
        url,
        [
            "onMessageAdded",
            "onMessageUpdated",
            "onMessageRemoved",
            "onDeliveryUpdated",
            "onConversationUpdated",
            "onConversationStateUpdated",
            "onParticipantAdded",
            "onParticipantUpdated",
            "onParticipantRemoved",
            "onConversationRemoved",
        ],
    )
    api = client.conversations.v1.conversations(conv)
    on = "true"

    def delete(path: str) -> None:
        response = httpx.delete(
            twilio_sim.url + path,
            headers={"X-Twilio-Webhook-Enabled": "true"},
            auth=(twilio_sim.account_sid, twilio_sim.auth_token),
        )
        assert response.status_code == 204

    part = api.participants.create(
        messaging_binding_address=CUSTOMER,
        messaging_binding_proxy_address=P1,
        x_twilio_webhook_enabled=on,
    )
    api.participants(part.sid).update(attributes='{"x": 1}', x_twilio_webhook_enabled=on)
    msg = api.messages.create(body="one", x_twilio_webhook_enabled=on)
    api.messages(msg.sid).update(body="one (edited)", x_twilio_webhook_enabled=on)
    # twilio-python 9.x drops X-Twilio-Webhook-Enabled on DELETE (its _delete helpers reset
    # the headers), so removals that should fire webhooks are sent with httpx.
    delete(f"/v1/Conversations/{conv}/Messages/{msg.sid}")
    text(twilio_sim, CUSTOMER, P1, "inbound")
    api.update(attributes='{"y": 2}', x_twilio_webhook_enabled=on)
    api.update(state="inactive", x_twilio_webhook_enabled=on)
    twilio_sim.wait_idle()
    delete(f"/v1/Conversations/{conv}/Participants/{part.sid}")
    delete(f"/v1/Conversations/{conv}")
    twilio_sim.wait_idle()

    received = webhook_recorder.requests(path="/all")
    kinds = {r.event for r in received}
    assert kinds == {
        "onParticipantAdded",
        "onParticipantUpdated",
        "onMessageAdded",
        "onMessageUpdated",
        "onMessageRemoved",
        "onDeliveryUpdated",
        "onConversationUpdated",
        "onConversationStateUpdated",
        "onParticipantRemoved",
        "onConversationRemoved",
    }
    for r in received:
        assert r.signature_valid(twilio_sim.auth_token, url), r.event
        assert r.headers["i-twilio-idempotency-token"]
        assert r.form["ConversationSid"] == conv
    inbound = webhook_recorder.requests(path="/in")
    assert inbound and inbound[0].signature_valid(
        twilio_sim.auth_token, f"{webhook_recorder.url}/in"
    )
    updated = next(r for r in received if r.event == "onMessageUpdated")
    assert updated.form["Body"] == "one (edited)" and "DateUpdated" in updated.form
    removed = next(r for r in received if r.event == "onMessageRemoved")
    assert removed.form["MessageSid"] == msg.sid


def test_get_webhooks_are_signed_over_the_full_url(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    url = f"{webhook_recorder.url}/get-hook"
    conv = pair_conversation(client)
    add_webhook(client, conv, url, ["onMessageAdded"], method="get")
    client.conversations.v1.conversations(conv).messages.create(
        body="by GET", x_twilio_webhook_enabled="true"
    )
    hook = webhook_recorder.wait_for(1, path="/get-hook")[0]
    assert hook.method == "GET"
    assert hook.query["Body"] == "by GET"
    assert hook.signature_valid(twilio_sim.auth_token)  # its own full URL with the query


def test_invalid_webhook_configuration(client: Client) -> None:
    from twilio.base.exceptions import TwilioRestException

    conv = client.conversations.v1.conversations.create().sid
    hooks = client.conversations.v1.conversations(conv).webhooks
    for kwargs in (
        {"target": "webhook"},
        {"target": "nowhere", "configuration_url": "https://x.test/a"},
        {"target": "webhook", "configuration_url": "ftp://x"},
        {
            "target": "webhook",
            "configuration_url": "https://x.test",
            "configuration_filters": ["onX"],
        },
    ):
        with pytest.raises(TwilioRestException) as exc:
            hooks.create(**kwargs)
        assert exc.value.status == 400
    hook = hooks.create(
        target="webhook",
        configuration_url="https://x.test/a",
        configuration_filters=["onMessageAdded"],
    )
    assert hooks.list()[0].sid == hook.sid
    updated = (
        client.conversations.v1.conversations(conv)
        .webhooks(hook.sid)
        .update(configuration_url="https://x.test/b")
    )
    assert updated.configuration["url"] == "https://x.test/b"
    client.conversations.v1.conversations(conv).webhooks(hook.sid).delete()
    assert hooks.list() == []


def test_a_slow_conversation_does_not_hold_up_others(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    from tests.support.twilio_sim import start_webhook_recorder

    slow = start_webhook_recorder()
    try:
        slow.delay = 2.0
        conv_a = client.conversations.v1.conversations.create().sid
        conv_b = client.conversations.v1.conversations.create().sid
        add_webhook(client, conv_a, f"{slow.url}/a", ["onMessageAdded"])
        add_webhook(client, conv_b, f"{webhook_recorder.url}/b", ["onMessageAdded"])
        client.conversations.v1.conversations(conv_a).messages.create(
            body="a1", x_twilio_webhook_enabled="true"
        )
        client.conversations.v1.conversations(conv_a).messages.create(
            body="a2", x_twilio_webhook_enabled="true"
        )
        client.conversations.v1.conversations(conv_b).messages.create(
            body="b", x_twilio_webhook_enabled="true"
        )
        a_first = slow.wait_for(1, path="/a")[0]
        b = webhook_recorder.wait_for(1, path="/b")[0]
        # Delivered serially, b could only start once a1 had been answered (2 s later).
        assert b.at - a_first.at < 2.0
        a_all = slow.wait_for(2, path="/a", timeout=15)
        assert [r.form["Body"] for r in a_all] == ["a1", "a2"]  # in order per conversation
        assert a_all[1].at - a_all[0].at >= 1.9  # one at a time within a conversation
        twilio_sim.wait_idle(timeout=15)
    finally:
        slow.stop()

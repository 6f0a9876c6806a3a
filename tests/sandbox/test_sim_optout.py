"""STOP/START/HELP texts: OptOutType on the inbound webhook, automatic replies, and
21610 for messages to a phone that opted out of that pool number."""

from __future__ import annotations

import pytest
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.helpers import CUSTOMER, P1, P2, P3, STORE, add_webhook, pair_conversation, text
from tests.support.twilio_sim import WebhookRecorder, sim_client, wait_until


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


def _bodies(sim: SimHandle, phone: str) -> list[str]:
    return [m["body"] for m in sim.handset(phone)]


def test_stop_blocks_that_pool_number_until_start(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    inbound_url = f"{webhook_recorder.url}/TwilioWebhooks/onIncomingMessage"
    sync_url = f"{webhook_recorder.url}/TwilioWebhooks/sync"
    twilio_sim.set_webhook_url(inbound_url)
    conv = pair_conversation(client)
    add_webhook(client, conv, sync_url, ["onDeliveryUpdated"])
    api = client.conversations.v1.conversations(conv)

    text(twilio_sim, CUSTOMER, P1, "Stop")
    hook = webhook_recorder.wait_for(1, path="/TwilioWebhooks/onIncomingMessage")[0]
    assert hook.form["OptOutType"] == "STOP"
    assert hook.signature_valid(twilio_sim.auth_token, inbound_url)
    wait_until(lambda: _bodies(twilio_sim, CUSTOMER), what="STOP confirmation")
    assert "unsubscribed" in _bodies(twilio_sim, CUSTOMER)[0]
    twilio_sim.wait_idle()
    webhook_recorder.clear()

    blocked = api.messages.create(body="Still there?")
    receipts = webhook_recorder.wait_for(
        1,
        path="/TwilioWebhooks/sync",
        where=lambda r: r.form["MessageSid"] == blocked.sid and r.form["Status"] == "failed",
    )
    assert receipts[0].form["ErrorCode"] == "21610"
    assert receipts[0].signature_valid(twilio_sim.auth_token, sync_url)
    twilio_sim.wait_idle()
    assert "Still there?" not in _bodies(twilio_sim, CUSTOMER)
    assert "Still there?" in _bodies(twilio_sim, STORE)  # the store did not opt out
    statuses = {
        r.participant_sid: (r.status, r.error_code)
        for r in api.messages(blocked.sid).delivery_receipts.list()
    }
    assert sorted(statuses.values(), key=str) == sorted(
        [("failed", 21610), ("delivered", 0)], key=str
    )

    # The opt-out is per pool number: the same phone via another number still gets texts.
    other = pair_conversation(client, customer_proxy=P3, store_proxy=P1)
    client.conversations.v1.conversations(other).messages.create(body="via another number")
    twilio_sim.wait_idle()
    assert "via another number" in _bodies(twilio_sim, CUSTOMER)

    text(twilio_sim, CUSTOMER, P1, "START")
    webhook_recorder.wait_for(
        1,
        path="/TwilioWebhooks/onIncomingMessage",
        where=lambda r: r.form.get("OptOutType") == "START",
    )
    api.messages.create(body="Welcome back")
    twilio_sim.wait_idle()
    assert "Welcome back" in _bodies(twilio_sim, CUSTOMER)
    assert any("re-subscribed" in b for b in _bodies(twilio_sim, CUSTOMER))


def test_help_gets_an_automatic_reply(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    twilio_sim.set_webhook_url(f"{webhook_recorder.url}/in")
    text(twilio_sim, STORE, P2, "help")
    hook = webhook_recorder.wait_for(1, path="/in")[0]
    assert hook.form["OptOutType"] == "HELP"
    wait_until(lambda: twilio_sim.handset(STORE), what="HELP reply")
    reply = twilio_sim.handset(STORE)[0]
    assert reply["from"] == P2 and "STOP" in reply["body"]


def test_plain_text_has_no_opt_out_type_and_twiml_replies_are_texted_back(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    twilio_sim.set_webhook_url(f"{webhook_recorder.url}/in")
    webhook_recorder.reply = "<Response><Message>Thanks, we got it</Message></Response>"
    text(twilio_sim, CUSTOMER, P3, "stop by tomorrow?")
    hook = webhook_recorder.wait_for(1, path="/in")[0]
    assert "OptOutType" not in hook.form
    wait_until(lambda: twilio_sim.handset(CUSTOMER), what="TwiML reply")
    assert twilio_sim.handset(CUSTOMER)[0]["body"] == "Thanks, we got it"
    assert twilio_sim.handset(CUSTOMER)[0]["from"] == P3


def test_inbound_rejects_bad_input(twilio_sim: SimHandle) -> None:
    import httpx

    for body in (
        {"from": "nope", "to": P1, "body": "x"},
        {"from": CUSTOMER, "to": "+19998887777", "body": "x"},
        {"from": CUSTOMER, "to": P1},
        ["not", "an", "object"],
    ):
        r = httpx.post(f"{twilio_sim.url}/_sim/inbound", json=body)
        assert r.status_code == 400
        assert r.json()["reason"] == "invalid_inbound"
    r = httpx.post(
        f"{twilio_sim.url}/_sim/inbound",
        content=b"{broken",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["reason"] == "invalid_json"
    r = httpx.get(f"{twilio_sim.url}/_sim/handset/12345")
    assert r.status_code == 400 and r.json()["reason"] == "invalid_phone"

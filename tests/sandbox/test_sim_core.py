"""The simulator driven by the real twilio SDK: conversations, participants, 50416,
routing to handsets, signed scoped webhooks, inbound texts, lookup and the pool."""

from __future__ import annotations

import json

import httpx
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.support.twilio_sim import (
    DEFAULT_POOL,
    WebhookRecorder,
    sim_client,
    wait_until,
)

CUSTOMER = "+17735550199"
STORE = "+13125551234"
P1, P2, P3 = DEFAULT_POOL[0], DEFAULT_POOL[1], DEFAULT_POOL[2]


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


def _pair_conversation(client: Client, customer_proxy: str = P1, store_proxy: str = P2) -> str:
    conv = client.conversations.v1.conversations.create(
        friendly_name="lead", attributes=json.dumps({"leadIds": ["L1"]})
    )
    conv_api = client.conversations.v1.conversations(conv.sid)
    conv_api.participants.create(
        messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=customer_proxy
    )
    conv_api.participants.create(
        messaging_binding_address=STORE, messaging_binding_proxy_address=store_proxy
    )
    return str(conv.sid)


def test_wrong_credentials_get_twilio_401(twilio_sim: SimHandle) -> None:
    bad = Client(twilio_sim.account_sid, "wrong-token")
    bad.conversations.base_url = twilio_sim.url
    with pytest.raises(TwilioRestException) as exc:
        bad.conversations.v1.conversations.create()
    assert exc.value.status == 401
    assert exc.value.code == 20003

    raw = httpx.get(f"{twilio_sim.url}/v1/Conversations")
    assert raw.status_code == 401
    body = raw.json()
    assert set(body) >= {"code", "message", "more_info", "status"}
    assert body["status"] == 401 and body["code"] == 20003


@pytest.mark.parametrize("user_is_bad", [False, True])
def test_non_ascii_credentials_get_twilio_401(twilio_sim: SimHandle, user_is_bad: bool) -> None:
    user, token = twilio_sim.account_sid, "geheim-\u00e9"
    if user_is_bad:
        user, token = "AC\u00e9", twilio_sim.auth_token
    raw = httpx.get(f"{twilio_sim.url}/v1/Conversations", auth=(user, token))
    assert raw.status_code == 401
    assert raw.json()["code"] == 20003


def test_conversation_lifecycle(client: Client, twilio_sim: SimHandle) -> None:
    conv = client.conversations.v1.conversations.create(
        friendly_name="Lead 1", attributes='{"a": 1}', unique_name="lead-1"
    )
    assert conv.sid.startswith("CH") and len(conv.sid) == 34
    assert conv.state == "active"
    assert conv.messaging_service_sid == twilio_sim.messaging_service_sid
    assert json.loads(conv.attributes) == {"a": 1}

    fetched = client.conversations.v1.conversations(conv.sid).fetch()
    assert fetched.friendly_name == "Lead 1"
    by_name = client.conversations.v1.conversations("lead-1").fetch()
    assert by_name.sid == conv.sid

    updated = client.conversations.v1.conversations(conv.sid).update(attributes='{"a": 2}')
    assert json.loads(updated.attributes) == {"a": 2}

    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations(conv.sid).update(attributes="{not json")
    assert exc.value.status == 400

    assert [c.sid for c in client.conversations.v1.conversations.list()] == [conv.sid]
    client.conversations.v1.conversations(conv.sid).delete()
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations(conv.sid).fetch()
    assert exc.value.status == 404 and exc.value.code == 20404


def test_list_pages_follow_next_page_url(client: Client) -> None:
    sids = [client.conversations.v1.conversations.create().sid for _ in range(5)]
    listed = [c.sid for c in client.conversations.v1.conversations.list(page_size=2)]
    assert listed == sids


def test_address_pair_lives_in_one_open_conversation(client: Client, twilio_sim: SimHandle) -> None:
    first = _pair_conversation(client)
    second = client.conversations.v1.conversations.create().sid

    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations(second).participants.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
        )
    assert exc.value.status == 409
    assert exc.value.code == 50416
    expected = (
        f"A binding for this participant and proxy address already exists in Conversation {first}"
    )
    # The SDK prefixes the server's message with "Unable to create record: ".
    assert exc.value.msg.endswith(expected)
    raw = httpx.post(
        f"{twilio_sim.url}/v1/Conversations/{second}/Participants",
        data={"MessagingBinding.Address": CUSTOMER, "MessagingBinding.ProxyAddress": P1},
        auth=(twilio_sim.account_sid, twilio_sim.auth_token),
    )
    assert raw.status_code == 409
    assert raw.json() == {
        "code": 50416,
        "message": expected,
        "more_info": "https://www.twilio.com/docs/errors/50416",
        "status": 409,
    }

    # Another proxy for the same customer is a different pair: allowed.
    other = client.conversations.v1.conversations(second).participants.create(
        messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P3
    )
    assert other.sid.startswith("MB")
    assert other.messaging_binding == {"type": "sms", "address": CUSTOMER, "proxy_address": P3}

    found = client.conversations.v1.participant_conversations.list(address=CUSTOMER)
    assert {c.conversation_sid for c in found} == {first, second}

    # Inactive still holds the pair; closing frees it.
    client.conversations.v1.conversations(first).update(state="inactive")
    with pytest.raises(TwilioRestException):
        client.conversations.v1.conversations(second).participants.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
        )
    client.conversations.v1.conversations(first).update(state="closed")
    third = client.conversations.v1.conversations.create().sid
    again = client.conversations.v1.conversations(third).participants.create(
        messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
    )
    assert again.conversation_sid == third


def test_deleting_a_participant_frees_its_pair(client: Client) -> None:
    conv = _pair_conversation(client)
    parts = client.conversations.v1.conversations(conv).participants.list()
    customer = next(p for p in parts if p.messaging_binding["address"] == CUSTOMER)
    client.conversations.v1.conversations(conv).participants(customer.sid).delete()
    other = client.conversations.v1.conversations.create().sid
    client.conversations.v1.conversations(other).participants.create(
        messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
    )


def test_participant_validation(client: Client) -> None:
    conv = client.conversations.v1.conversations.create().sid
    api = client.conversations.v1.conversations(conv).participants
    with pytest.raises(TwilioRestException) as exc:
        api.create(messaging_binding_address=CUSTOMER)
    assert exc.value.status == 400
    with pytest.raises(TwilioRestException) as exc:
        api.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address="+19995550000"
        )
    assert exc.value.status == 400
    staff = api.create(identity="staff:42")
    assert staff.identity == "staff:42" and staff.messaging_binding is None
    with pytest.raises(TwilioRestException) as exc:
        api.create(identity="staff:42")
    assert exc.value.status == 409
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversations("CH" + "0" * 32).participants.create(identity="x")
    assert exc.value.status == 404 and exc.value.code == 20404


def test_message_reaches_every_sms_participant_but_its_author(
    client: Client, twilio_sim: SimHandle
) -> None:
    conv = _pair_conversation(client)
    api = client.conversations.v1.conversations(conv)
    api.participants.create(identity="staff:7")

    greeting = api.messages.create(body="Hi from the store", attributes='{"k": "g1"}')
    assert greeting.sid.startswith("IM") and greeting.index == 0
    assert greeting.author == "system"
    assert json.loads(greeting.attributes) == {"k": "g1"}

    api.messages.create(author=CUSTOMER, body="Is it in stock?")
    api.messages.create(author="staff:7", body="Yes it is")
    twilio_sim.wait_idle()

    customer = twilio_sim.handset(CUSTOMER)
    store = twilio_sim.handset(STORE)
    assert [(m["from"], m["body"]) for m in customer] == [
        (P1, "Hi from the store"),
        (P1, "Yes it is"),
    ]
    assert [(m["from"], m["body"]) for m in store] == [
        (P2, "Hi from the store"),
        (P2, "Is it in stock?"),
        (P2, "Yes it is"),
    ]
    via_http = httpx.get(f"{twilio_sim.url}/_sim/handset/{CUSTOMER}").json()
    assert [m["body"] for m in via_http["messages"]] == ["Hi from the store", "Yes it is"]

    messages = api.messages.list()
    assert [m.index for m in messages] == [0, 1, 2]
    from_customer = messages[1]
    assert from_customer.participant_sid is not None
    receipts = api.messages(greeting.sid).delivery_receipts.list()
    assert len(receipts) == 2
    assert {r.status for r in receipts} == {"delivered"}
    assert all(r.sid.startswith("DY") for r in receipts)
    fetched = api.messages(greeting.sid).fetch()
    assert fetched.delivery["total"] == 2 and fetched.delivery["delivered"] == "all"


def _webhook(client: Client, conv: str, url: str, filters: list[str]) -> str:
    hook = client.conversations.v1.conversations(conv).webhooks.create(
        target="webhook",
        configuration_url=url,
        configuration_method="post",
        configuration_filters=filters,
    )
    assert hook.sid.startswith("WH")
    assert hook.configuration["filters"] == filters
    return str(hook.sid)


def test_scoped_webhooks_are_signed_like_twilio(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = _pair_conversation(client)
    url = f"{webhook_recorder.url}/TwilioWebhooks/sync"
    hook_sid = _webhook(client, conv, url, ["onMessageAdded", "onDeliveryUpdated"])
    api = client.conversations.v1.conversations(conv)

    msg = api.messages.create(
        body="hello", attributes='{"idempotencyKey": "k1"}', x_twilio_webhook_enabled="true"
    )
    added = webhook_recorder.wait_for(1, event="onMessageAdded")[0]
    form = added.form
    assert form["ConversationSid"] == conv
    assert form["MessageSid"] == msg.sid
    assert form["Index"] == "0"
    assert form["Author"] == "system"
    assert form["Body"] == "hello"
    assert json.loads(form["Attributes"]) == {"idempotencyKey": "k1"}
    assert form["AccountSid"] == twilio_sim.account_sid
    assert form["WebhookSid"] == hook_sid
    assert form["Source"] == "API"
    assert form["DateCreated"].endswith("Z")
    assert added.headers["i-twilio-idempotency-token"]
    assert added.signature_valid(twilio_sim.auth_token, url)
    assert not added.signature_valid("another-token", url)

    # Two recipients, each sent then delivered.
    receipts = webhook_recorder.wait_for(4, event="onDeliveryUpdated")
    by_receipt: dict[str, list[str]] = {}
    for r in receipts:
        assert r.signature_valid(twilio_sim.auth_token, url)
        assert r.form["MessageSid"] == msg.sid
        assert r.form["DeliveryReceiptSid"].startswith("DY")
        assert r.form["ChannelMessageSid"].startswith("SM")
        assert r.form["ParticipantSid"].startswith("MB")
        by_receipt.setdefault(r.form["DeliveryReceiptSid"], []).append(r.form["Status"])
    assert sorted(by_receipt.values()) == [["sent", "delivered"], ["sent", "delivered"]]


def test_api_actions_fire_webhooks_only_when_enabled(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    conv = _pair_conversation(client)
    _webhook(client, conv, f"{webhook_recorder.url}/sync", ["onMessageAdded", "onDeliveryUpdated"])
    client.conversations.v1.conversations(conv).messages.create(body="quiet")
    webhook_recorder.wait_for(4, event="onDeliveryUpdated")
    twilio_sim.wait_idle()
    assert webhook_recorder.requests(event="onMessageAdded") == []


def test_inbound_text_joins_its_conversation_and_hits_the_messaging_webhook(
    client: Client, twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    inbound_url = f"{webhook_recorder.url}/TwilioWebhooks/onIncomingMessage"
    twilio_sim.set_webhook_url(inbound_url)
    conv = _pair_conversation(client)
    _webhook(client, conv, f"{webhook_recorder.url}/TwilioWebhooks/sync", ["onMessageAdded"])

    result = httpx.post(
        f"{twilio_sim.url}/_sim/inbound", json={"from": CUSTOMER, "to": P1, "body": "Hello?"}
    ).json()
    assert result["conversation_sid"] == conv
    assert result["sid"].startswith("SM")

    hook = webhook_recorder.wait_for(1, path="/TwilioWebhooks/onIncomingMessage")[0]
    assert hook.form["From"] == CUSTOMER and hook.form["To"] == P1
    assert hook.form["Body"] == "Hello?"
    assert hook.form["MessageSid"] == result["sid"]
    assert hook.form["AccountSid"] == twilio_sim.account_sid
    assert hook.form["MessagingServiceSid"] == twilio_sim.messaging_service_sid
    assert hook.form["NumMedia"] == "0"
    assert "OptOutType" not in hook.form
    assert hook.signature_valid(twilio_sim.auth_token, inbound_url)

    added = webhook_recorder.wait_for(1, event="onMessageAdded")[0]
    assert added.form["Author"] == CUSTOMER and added.form["Source"] == "SMS"
    assert added.form["ParticipantSid"].startswith("MB")
    wait_until(lambda: twilio_sim.handset(STORE), what="store handset")
    assert twilio_sim.handset(STORE)[0] == {
        "from": P2,
        "body": "Hello?",
        "at": twilio_sim.handset(STORE)[0]["at"],
        "media": [],
    }
    assert twilio_sim.handset(CUSTOMER) == []

    # A text to a pool number without a conversation only reaches the webhook.
    lone = httpx.post(
        f"{twilio_sim.url}/_sim/inbound", json={"from": CUSTOMER, "to": P3, "body": "hi"}
    ).json()
    assert lone["conversation_sid"] is None
    webhook_recorder.wait_for(2, path="/TwilioWebhooks/onIncomingMessage")


def test_lookup_line_types(client: Client, twilio_sim: SimHandle) -> None:
    result = client.lookups.v2.phone_numbers(CUSTOMER).fetch(fields="line_type_intelligence")
    assert result.valid is True
    assert result.phone_number == CUSTOMER
    assert result.line_type_intelligence["type"] == "mobile"

    r = httpx.post(f"{twilio_sim.url}/_sim/lookup", json={STORE: "landline"})
    assert r.status_code == 200
    landline = client.lookups.v2.phone_numbers(STORE).fetch(fields="line_type_intelligence")
    assert landline.line_type_intelligence["type"] == "landline"

    invalid = client.lookups.v2.phone_numbers("+1555").fetch(fields="line_type_intelligence")
    assert invalid.valid is False
    assert invalid.line_type_intelligence is None

    bad = httpx.post(f"{twilio_sim.url}/_sim/lookup", json={STORE: "pigeon"})
    assert bad.status_code == 400 and bad.json()["reason"] == "invalid_line_type"


def test_messaging_service_pool(client: Client, twilio_sim: SimHandle) -> None:
    numbers = client.messaging.v1.services(twilio_sim.messaging_service_sid).phone_numbers.list()
    assert [n.phone_number for n in numbers] == DEFAULT_POOL
    assert all(n.sid.startswith("PN") and len(n.sid) == 34 for n in numbers)
    with pytest.raises(TwilioException) as exc:
        client.messaging.v1.services("MG" + "0" * 32).phone_numbers.list()
    assert exc.value.args[1].status_code == 404


async def test_async_client_drives_the_simulator(twilio_sim: SimHandle) -> None:
    from tests.support.twilio_sim import async_sim_client

    client = async_sim_client(twilio_sim)
    try:
        conv = await client.conversations.v1.conversations.create_async(friendly_name="async")
        api = client.conversations.v1.conversations(conv.sid)
        await api.participants.create_async(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
        )
        with pytest.raises(TwilioRestException) as exc:
            other = await client.conversations.v1.conversations.create_async()
            await client.conversations.v1.conversations(other.sid).participants.create_async(
                messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
            )
        assert exc.value.code == 50416
        msg = await api.messages.create_async(body="async hello")
        assert msg.index == 0
        listed = await api.messages.list_async()
        assert [m.sid for m in listed] == [msg.sid]
        lookup = await client.lookups.v2.phone_numbers(CUSTOMER).fetch_async(
            fields="line_type_intelligence"
        )
        assert lookup.line_type_intelligence["type"] == "mobile"
        pool = await client.messaging.v1.services(
            twilio_sim.messaging_service_sid
        ).phone_numbers.list_async()
        assert len(pool) == len(DEFAULT_POOL)
    finally:
        await client.http_client.session.close()
    wait_until(lambda: twilio_sim.handset(CUSTOMER), what="customer handset")
    assert twilio_sim.handset(CUSTOMER)[0]["body"] == "async hello"


def test_conversation_with_participants_is_all_or_nothing(
    client: Client, twilio_sim: SimHandle
) -> None:
    created = client.conversations.v1.conversation_with_participants.create(
        friendly_name="atomic",
        attributes='{"leadIds": ["L9"]}',
        participant=[
            json.dumps({"messaging_binding": {"address": CUSTOMER, "proxy_address": P1}}),
            json.dumps({"messaging_binding": {"address": STORE, "proxy_address": P2}}),
            json.dumps({"identity": "staff:3"}),
        ],
    )
    assert created.sid.startswith("CH")
    parts = client.conversations.v1.conversations(created.sid).participants.list()
    assert len(parts) == 3

    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversation_with_participants.create(
            friendly_name="clash",
            participant=[
                json.dumps({"messaging_binding": {"address": "+12125550199", "proxy_address": P3}}),
                json.dumps({"messaging_binding": {"address": CUSTOMER, "proxy_address": P1}}),
            ],
        )
    assert exc.value.status == 409 and exc.value.code == 50416
    assert created.sid in exc.value.msg
    names = [c.friendly_name for c in client.conversations.v1.conversations.list()]
    assert names == ["atomic"]  # nothing of the failed request remains
    with pytest.raises(TwilioRestException) as exc:
        client.conversations.v1.conversation_with_participants.create(participant=["not json"])
    assert exc.value.status == 400

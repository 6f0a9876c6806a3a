"""Correctly signed webhooks whose content is odd (missing or malformed fields,
unknown events, statuses and states, huge ids): Twilio retries every non-2xx, so the
relay must acknowledge or refuse them with a 4xx, never answer 5xx, and a stored
oddity must not break the staff feed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.relay_qa.helpers import (
    HTTP,
    World,
    assert_error,
    lead_body,
    new_id,
    new_phone,
    sign,
    wait_for,
)


@pytest.fixture(scope="module")
def conversation(world: World) -> str:
    """A conversation of this module's own (its lead may be closed by the tests)."""
    lead_id = new_id()
    r = world.create(
        lead_id, lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    )
    assert r.status_code == 200, r.text

    def sid() -> str | None:
        tw = world.status(lead_id)["Integrations"]["Twilio"]
        assert tw["SyncStatus"] != "ERROR", tw
        return str(tw["Data"]["ConversationSID"]) if tw["SyncStatus"] == "SYNCED" else None

    return str(wait_for(sid, what="the module's lead to sync"))


def _signed(world: World, path: str, params: dict[str, str]) -> Any:
    url = world.relay.settings.public_url + path
    return HTTP.post(
        world.url + path, data=params, headers={"X-Twilio-Signature": sign(url, params)}
    )


def _sync_cases(sid: str) -> dict[str, dict[str, str]]:
    msg = "IM" + uuid.uuid4().hex
    return {
        "unknown event": {"EventType": "onSomethingNew", "ConversationSid": sid},
        "no event type": {"ConversationSid": sid},
        "added without MessageSid": {"EventType": "onMessageAdded", "ConversationSid": sid},
        "added with empty fields": {
            "EventType": "onMessageAdded",
            "ConversationSid": sid,
            "MessageSid": "IM" + uuid.uuid4().hex,
            "Author": "",
            "Body": "",
            "Index": "",
            "DateCreated": "",
            "Attributes": "",
        },
        "added with odd fields": {
            "EventType": "onMessageAdded",
            "ConversationSid": sid,
            "MessageSid": msg,
            "Author": "\u0000",
            "Body": "x" * 5000,
            "Index": "-1",
            "DateCreated": "yesterday",
            "Attributes": '["not", "an", "object"]',
        },
        "added with a huge MessageSid": {
            "EventType": "onMessageAdded",
            "ConversationSid": sid,
            "MessageSid": "IM" + "f" * 3000,
            "Author": "+13125550999",
            "Body": "hi",
        },
        "receipt without MessageSid": {
            "EventType": "onDeliveryUpdated",
            "ConversationSid": sid,
            "DeliveryReceiptSid": "DY" + uuid.uuid4().hex,
            "Status": "delivered",
        },
        "receipt with odd status and code": {
            "EventType": "onDeliveryUpdated",
            "ConversationSid": sid,
            "MessageSid": msg,
            "DeliveryReceiptSid": "DY" + uuid.uuid4().hex,
            "Status": "exploded",
            "ErrorCode": "abc",
        },
        "receipt for an unknown message": {
            "EventType": "onDeliveryUpdated",
            "ConversationSid": sid,
            "MessageSid": "IM" + uuid.uuid4().hex,
            "DeliveryReceiptSid": "DY" + uuid.uuid4().hex,
            "Status": "failed",
            "ErrorCode": "99999999999999999999999",
        },
        "updated unknown message": {
            "EventType": "onMessageUpdated",
            "ConversationSid": sid,
            "MessageSid": "IM" + uuid.uuid4().hex,
            "Body": "edited",
        },
        "removed unknown message": {
            "EventType": "onMessageRemoved",
            "ConversationSid": sid,
            "MessageSid": "IM" + uuid.uuid4().hex,
        },
        "huge conversation sid": {
            "EventType": "onMessageAdded",
            "ConversationSid": "CH" + "a" * 3000,
            "MessageSid": "IM" + uuid.uuid4().hex,
        },
    }


def test_odd_sync_events_never_500(world: World, conversation: str) -> None:
    failures = []
    for label, params in _sync_cases(conversation).items():
        r = _signed(world, "/TwilioWebhooks/sync", params)
        if r.status_code >= 500:
            failures.append(f"{label}: {r.status_code} {r.text[:200]}")
        elif r.status_code >= 400:
            assert_error(r, r.status_code)
    assert not failures, "\n".join(failures)
    _feed_still_works(world)


def test_odd_state_events_never_500(world: World, conversation: str) -> None:
    cases = {
        "unknown state": {"ConversationSid": conversation, "StateTo": "exploded"},
        "no state": {"ConversationSid": conversation},
        "other event type": {"EventType": "onMessageAdded", "ConversationSid": conversation},
        "closed, unknown conversation": {
            "ConversationSid": "CH" + uuid.uuid4().hex,
            "StateTo": "closed",
        },
        "closed, no conversation": {"StateTo": "closed"},
        "huge sid": {"ConversationSid": "CH" + "b" * 3000, "StateTo": "inactive"},
        "inactive": {"ConversationSid": conversation, "StateTo": "inactive", "StateFrom": "active"},
    }
    failures = []
    for label, params in cases.items():
        params = {"EventType": "onConversationStateUpdated", **params}
        r = _signed(world, "/TwilioWebhooks/close", params)
        if r.status_code >= 500:
            failures.append(f"{label}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    _feed_still_works(world)


def test_odd_inbound_messages_never_500(world: World) -> None:
    cases = {
        "STOP without From": {"OptOutType": "STOP", "To": world.sim.pool[2], "Body": "STOP"},
        "STOP without To": {"OptOutType": "STOP", "From": new_phone(), "Body": "STOP"},
        "STOP from a non-number": {
            "OptOutType": "STOP",
            "From": "whatsapp:abc",
            "To": world.sim.pool[2],
            "MessageSid": "SM" + uuid.uuid4().hex,
        },
        "STOP to a huge number": {
            "OptOutType": "STOP",
            "From": new_phone(),
            "To": "+1" + "2" * 3000,
            "MessageSid": "SM" + uuid.uuid4().hex,
        },
        "START never stopped": {
            "OptOutType": "START",
            "From": new_phone(),
            "To": world.sim.pool[2],
            "MessageSid": "SM" + uuid.uuid4().hex,
        },
        "lower-case stop": {
            "OptOutType": "stop",
            "From": new_phone(),
            "To": world.sim.pool[2],
            "MessageSid": "SM" + uuid.uuid4().hex,
        },
        "unknown opt-out type": {
            "OptOutType": "MAYBE",
            "From": new_phone(),
            "To": world.sim.pool[2],
        },
        "huge MessageSid": {
            "OptOutType": "STOP",
            "From": new_phone(),
            "To": world.sim.pool[2],
            "MessageSid": "SM" + "c" * 3000,
        },
    }
    failures = []
    for label, params in cases.items():
        r = _signed(world, "/TwilioWebhooks/onIncomingMessage", params)
        if r.status_code >= 500:
            failures.append(f"{label}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def _feed_still_works(world: World) -> None:
    cursor = ""
    while True:
        r = HTTP.get(
            world.url + "/v1/changes",
            params={"cursor": cursor, "limit": 500},
            headers={"Authorization": world.staff_key},
        )
        assert r.status_code == 200, r.text[:500]
        page = r.json()
        cursor = page["cursor"]
        if not page["hasMore"]:
            return

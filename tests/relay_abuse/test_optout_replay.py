"""A signed STOP/START webhook replayed once its dedupe record expired must not flip
the opt-out state: the relay applies an opt-out text only if Twilio received it
after the last one it applied."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from app.relay import auth
from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import HTTP, SIM_TOKEN, new_phone, wait_for
from tests.support.relay import RelayHandle, start_relay

PATH = "/TwilioWebhooks/onIncomingMessage"


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim)
    yield handle
    handle.stop()


#: the opt-in status key issued per relay (by its tables' prefix)
_OPTIN_KEYS: dict[str, str] = {}


def _status(relay: RelayHandle, phone: str) -> dict[str, Any]:
    key = _OPTIN_KEYS.get(relay.tables.prefix)
    if key is None:
        key = _OPTIN_KEYS[relay.tables.prefix] = auth.issue_key(
            relay.tables, ["TwilioWebhooks/getOptInNumber"]
        )
    r = HTTP.post(
        f"{relay.url}/TwilioWebhooks/checkOptInStatus",
        json={"PhoneNumber": phone},
        headers={"Authorization": key},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _text(relay: RelayHandle, sim: SimHandle, phone: str, pool: str, word: str) -> dict[str, Any]:
    """The customer texts `word`; wait for its effect. Twilio's clock then moves on a
    few seconds (its message times have whole seconds)."""
    sim.set_webhook_url(relay.url + PATH)
    record = sim.inbound(phone, pool, word)
    opted_out = {"Status": "OPTED-OUT", "OptInNumbers": [pool]}
    want = {"Status": "OPTED-IN"} if word == "START" else opted_out
    wait_for(lambda: _status(relay, phone) == want, what=f"{word} to take effect")
    sim.advance(5)
    return record


def _replay(relay: RelayHandle, sim: SimHandle, record: dict[str, Any], word: str) -> None:
    """Post the signed webhook of an old text again, its dedupe record gone (expired)."""
    sid = record["sid"]
    relay.tables.events.delete_item(Key={"EventKey": f"inbound:{sid}:{word}"})
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": sim.account_sid,
        "From": record["from"],
        "To": record["to"],
        "Body": word,
        "OptOutType": word,
    }
    signature = RequestValidator(SIM_TOKEN).compute_signature(
        relay.settings.public_url + PATH, params
    )
    r = HTTP.post(relay.url + PATH, data=params, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200, r.text


def test_a_replayed_stop_does_not_opt_a_customer_out_again(
    relay: RelayHandle, sim: SimHandle
) -> None:
    phone, pool = new_phone(), sim.pool[1]
    stop = _text(relay, sim, phone, pool, "STOP")
    _text(relay, sim, phone, pool, "START")
    _replay(relay, sim, stop, "STOP")
    assert _status(relay, phone) == {"Status": "OPTED-IN"}


def test_a_replayed_start_does_not_opt_a_customer_back_in(
    relay: RelayHandle, sim: SimHandle
) -> None:
    phone, pool = new_phone(), sim.pool[2]
    _text(relay, sim, phone, pool, "STOP")
    start = _text(relay, sim, phone, pool, "START")
    _text(relay, sim, phone, pool, "STOP")
    _replay(relay, sim, start, "START")
    assert _status(relay, phone) == {"Status": "OPTED-OUT", "OptInNumbers": [pool]}
    # a text Twilio never received is not applied either
    forged = dict(start, sid="SM" + uuid.uuid4().hex)
    _replay(relay, sim, forged, "START")
    assert _status(relay, phone) == {"Status": "OPTED-OUT", "OptInNumbers": [pool]}
    # a new START still works
    _text(relay, sim, phone, pool, "START")

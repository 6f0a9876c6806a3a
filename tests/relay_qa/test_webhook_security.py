"""Twilio webhooks: `X-Twilio-Signature` for W2T_PUBLIC_URL + path is required on
/TwilioWebhooks/sync, /close, /onIncomingMessage, /onIncomingCall and
/onCallStatus (403 `invalid_signature`, never 500, whatever else is wrong with the
request); a correctly signed request (signed with the twilio SDK's RequestValidator)
is answered 2xx; the simulator's own signed webhooks are accepted.
/checkOptInStatus takes an API key with `TwilioWebhooks/getOptInNumber` instead of a
signature."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.relay_qa.helpers import (
    HTTP,
    SIM_TOKEN,
    TIMEOUT,
    World,
    assert_error,
    new_phone,
    sign,
    wait_for,
)
from tests.support.relay import issue_key

FORM = "application/x-www-form-urlencoded"
SIGNED_PATHS = [
    "/TwilioWebhooks/sync",
    "/TwilioWebhooks/close",
    "/TwilioWebhooks/onIncomingMessage",
    "/TwilioWebhooks/onIncomingCall",
    "/TwilioWebhooks/onCallStatus",
]


def _event(path: str) -> dict[str, str]:
    """A plausible event of that webhook for an unknown conversation (acknowledged)."""
    sid = "CH" + uuid.uuid4().hex
    if path.endswith("/sync"):
        return {
            "EventType": "onMessageAdded",
            "ConversationSid": sid,
            "MessageSid": "IM" + uuid.uuid4().hex,
            "Author": "+13125550999",
            "Body": "hello",
            "Index": "0",
        }
    if path.endswith("/onIncomingCall"):
        return {"CallSid": "CA" + uuid.uuid4().hex, "From": "+13125550997", "To": "+13125550201"}
    if path.endswith("/onCallStatus"):
        # the final status of a call's dialed leg, for a conversation the relay lacks
        return {"CallSid": "CA" + uuid.uuid4().hex, "CallStatus": "completed",
                "CallDuration": "12", "ParentCallSid": "CA" + uuid.uuid4().hex}
    if path.endswith("/close"):
        return {
            "EventType": "onConversationStateUpdated",
            "ConversationSid": sid,
            "StateFrom": "active",
            "StateTo": "inactive",
        }
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "From": "+13125550998",
        "To": "+13125550201",
        "Body": "just a text",
    }


def _post(
    world: World, path: str, params: dict[str, str], signature: str | None, **kw: Any
) -> httpx.Response:
    headers = {"Content-Type": FORM, **kw.pop("headers", {})}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    content = kw.pop("content", urlencode(params).encode())
    return HTTP.post(world.url + path, content=content, headers=headers, timeout=TIMEOUT, **kw)


def _public(world: World, path: str) -> str:
    return world.relay.settings.public_url + path


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_bad_signatures_are_403(world: World, path: str) -> None:
    params = _event(path)
    url = _public(world, path)
    other = next(p for p in SIGNED_PATHS if p != path)
    bad = {
        "missing": None,
        "empty": "",
        "garbage": "not base64 at all!",
        "random": base64.b64encode(uuid.uuid4().bytes + b"0000").decode(),
        "other path": sign(_public(world, other), params),
        "other host": sign("https://relay.example.com" + path, params),
        "http vs https": sign(url.replace("http://", "https://"), params),
        "query not signed": sign(url + "?x=1", params),
        "other auth token": sign(url, params, token=SIM_TOKEN + "x"),
        "other params": sign(url, {**params, "Body": "tampered"}),
    }
    for label, signature in bad.items():
        r = _post(world, path, params, signature)
        assert r.status_code == 403, (label, r.status_code, r.text)
        assert_error(r, 403, "invalid_signature")
    # an API key is no substitute for the signature
    r = _post(world, path, params, None, headers={"Authorization": world.all_key})
    assert_error(r, 403, "invalid_signature")


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_malformed_signed_requests_never_500(world: World, path: str) -> None:
    url = _public(world, path)
    cases: dict[str, bytes] = {
        "not utf-8": b"\xff\xfe\x00EventType=\xc3(",
        "json instead of a form": b'{"EventType": "onMessageAdded"}',
        "empty": b"",
        "nul bytes": b"EventType=on%00MessageAdded&Body=%00",
        "repeated names": b"Body=a&Body=b&EventType=onMessageAdded",
    }
    for label, content in cases.items():
        # The signature of what a sender would have meant (it cannot match these bytes).
        r = _post(world, path, {}, sign(url, {"Body": "a"}), content=content)
        assert r.status_code < 500, (label, r.text)
        assert_error(r, 403, "invalid_signature")
    r = _post(world, path, {}, sign(url, {}), content=b"Body=" + b"x" * 200_000)
    assert_error(r, 413, "payload_too_large")


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_correctly_signed_requests_are_accepted(world: World, path: str) -> None:
    params = _event(path)
    r = _post(world, path, params, sign(_public(world, path), params))
    assert 200 <= r.status_code < 300, r.text
    if path.endswith(("onIncomingMessage", "onIncomingCall")):
        assert r.headers["content-type"].startswith("text/xml")
        assert "<Response" in r.text
    # the URL Twilio signs includes the query string
    query = "?source=qa"
    params = _event(path)
    r = _post(world, path + query, params, sign(_public(world, path) + query, params))
    assert 200 <= r.status_code < 300, r.text
    # a form with an empty value and unicode is signed over the decoded values
    params = {**_event(path), "Body": "café ☕ ", "Attributes": ""}
    r = _post(world, path, params, sign(_public(world, path), params))
    assert 200 <= r.status_code < 300, r.text


def test_simulator_signed_webhooks_reach_the_relay(world: World) -> None:
    """The simulator signs its scoped webhook with the account's token: a customer's
    text lands in the relay (the staff feed shows it)."""
    conv = world.sim.state.get_conversation(world.conversation_sid)
    proxy = next(
        str(p.proxy_address) for p in conv.participants.values() if p.address == world.customer
    )
    text = f"qa signed {uuid.uuid4().hex[:8]}"
    world.sim.inbound(world.customer, proxy, text)

    def arrived() -> bool:
        r = HTTP.get(
            world.url + "/v1/changes",
            params={"limit": 500},
            headers={"Authorization": world.staff_key},
            timeout=TIMEOUT,
        )
        changes = r.json()["changes"]
        return any(c["entity"] == "message" and c["data"].get("body") == text for c in changes)

    wait_for(arrived, what="the customer's text in the staff feed")


# --------------------------------------------------------------------------- checkOptInStatus


def _opt_in(world: World, key: str | None, body: Any = None, **kw: Any) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return HTTP.post(
        world.url + "/TwilioWebhooks/checkOptInStatus",
        json=body,
        headers=headers,
        timeout=TIMEOUT,
        **kw,
    )


def test_check_opt_in_status_needs_its_endpoint(world: World) -> None:
    phone = new_phone()
    body = {"PhoneNumber": phone}
    assert_error(_opt_in(world, None, body), 401, "unauthorized")
    url = _public(world, "/TwilioWebhooks/checkOptInStatus")
    # a Twilio signature is not a key
    r = HTTP.post(
        world.url + "/TwilioWebhooks/checkOptInStatus",
        json=body,
        headers={"X-Twilio-Signature": sign(url, {})},
        timeout=TIMEOUT,
    )
    assert_error(r, 401, "unauthorized")
    assert_error(_opt_in(world, world.narrow_key, body), 403, "forbidden")
    assert_error(_opt_in(world, world.staff_key, body), 403, "forbidden")
    only = issue_key(world.relay, ["TwilioWebhooks/getOptInNumber"])
    r = _opt_in(world, only, body)
    assert r.status_code == 200 and r.json() == {"Status": "OPTED-IN"}, r.text
    r = _opt_in(world, world.all_key, {"PhoneNumber": phone[2:]})  # national form
    assert r.status_code == 200 and r.json() == {"Status": "OPTED-IN"}, r.text


def test_check_opt_in_status_follows_stop_and_start(world: World) -> None:
    phone = new_phone()
    pool_number = world.sim.pool[3]
    # the simulator's inbound webhook may point at another module's relay (test_fuzz)
    world.sim.set_webhook_url(world.url + "/TwilioWebhooks/onIncomingMessage")
    for word in ("STOP", "START"):
        world.sim.inbound(phone, pool_number, word)  # Twilio's signed inbound webhook
        want = (
            {"Status": "OPTED-OUT", "OptInNumbers": [pool_number]}
            if word == "STOP"
            else {"Status": "OPTED-IN"}
        )
        wait_for(
            lambda want=want: _opt_in(world, world.all_key, {"PhoneNumber": phone}).json()
            == want,
            what=f"the {word} to show in checkOptInStatus",
        )
        # the customer's next text comes later by Twilio's clock (its times have
        # whole seconds)
        world.sim.advance(2)


@pytest.mark.parametrize(
    ("label", "content", "reason"),
    [
        ("no body", b"", "invalid_request"),
        ("not JSON", b"PhoneNumber=+13125550100", "invalid_request"),
        ("array", b"[]", "invalid_request"),
        ("null", b"null", "invalid_request"),
        ("number", b"42", "invalid_request"),
        ("missing PhoneNumber", b"{}", "invalid_request"),
        ("PhoneNumber null", b'{"PhoneNumber": null}', "invalid_phone"),
        ("PhoneNumber number", b'{"PhoneNumber": 3125550100}', "invalid_phone"),
        ("PhoneNumber object", b'{"PhoneNumber": {"a": 1}}', "invalid_phone"),
        ("PhoneNumber garbage", b'{"PhoneNumber": "call me"}', "invalid_phone"),
        ("PhoneNumber short", b'{"PhoneNumber": "555"}', "invalid_phone"),
        ("PhoneNumber surrogate", b'{"PhoneNumber": "\\ud800"}', "invalid_phone"),
    ],
)
def test_check_opt_in_status_bad_input(
    world: World, label: str, content: bytes, reason: str
) -> None:
    r = HTTP.post(
        world.url + "/TwilioWebhooks/checkOptInStatus",
        content=content,
        headers={"Authorization": world.all_key, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    body = assert_error(r, 400, reason)
    assert "PhoneNumber" in body["message"] or "Body" in body["message"], body

"""Helpers of the relay QA suite: a seeded world (two retailers, three locations,
keys of every kind, one real conversation), error-body assertions and Twilio
signatures."""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from app.relay import auth
from app.sandbox.twilio_sim import SimHandle
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_key,
    issue_staff_key,
    seed_dealer,
    seed_location,
    seed_retailer,
    tables_for,
)

SIM_SID = "AC" + "9" * 32
SIM_TOKEN = "relay-qa-auth-token-5f1c"
# Several area codes so that each store can get a proxy number per conversation.
POOL = [f"+1{area}55502{i:02d}" for area in ("312", "415", "212") for i in range(8)]

SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MESSAGE_FORM = re.compile(
    r"^(?P<what>[A-Za-z. ]+?) is (?P<kind>INVALID|NONEXISTANT) - (?P<text>.+)$"
)
TIMEOUT = 15.0
# One keep-alive client for the whole suite: a new httpx client per request costs
# more CPU than the request itself on a busy machine.
HTTP = httpx.Client(timeout=TIMEOUT)

_phones = iter(range(300, 9999))


@functools.cache
def _openapi() -> str:
    from app.relay.app import create_app
    from app.relay.config import Settings

    settings = Settings(table_prefix="TESTQASPEC", dynamodb_endpoint="http://127.0.0.1:9")
    return json.dumps(create_app(settings).openapi())


def relay_openapi() -> dict[str, Any]:
    """The OpenAPI document the relay serves, built by the same `create_app` without
    a server (usable at collection time; tests check the served one is identical)."""
    return dict(json.loads(_openapi()))


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the relay's OpenAPI document."""
    spec = relay_openapi()
    return sorted(
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    )


def new_phone() -> str:
    """A fresh, valid US mobile-style number (+1 312 555 03xx...)."""
    return f"+1312555{next(_phones):04d}"


def new_id() -> str:
    return str(uuid.uuid4())


def assert_error(
    r: httpx.Response,
    status: int,
    reason: str | None = None,
    *,
    what: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """`r` is a `status` answer with the `{"code","message","reason"}` body (DESIGN.md);
    `what`/`kind`: the message has the form `"<What> is <INVALID|NONEXISTANT> - <reason>"`."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = error_shape(r)
    if reason is not None:
        assert body["reason"] == reason, body
    if what is not None or kind is not None:
        m = MESSAGE_FORM.match(body["message"])
        assert m, f"message not in the '<What> is <KIND> - <reason>' form: {body['message']!r}"
        if what is not None:
            assert m["what"] == what, body
        if kind is not None:
            assert m["kind"] == kind, body
    return body


def error_shape(r: httpx.Response | Any) -> dict[str, Any]:
    """The error body, checked: JSON object with code == status, a message, a snake_case reason."""
    ctype = r.headers.get("content-type", "")
    assert ctype.startswith("application/json"), f"{r.status_code} not JSON ({ctype}): {r.text!r}"
    body = r.json()
    assert isinstance(body, dict), body
    assert {"code", "message", "reason"} <= set(body), body
    assert body["code"] == r.status_code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["reason"], str) and SNAKE.match(body["reason"]), body
    return body


def sign(url: str, params: dict[str, str], token: str = SIM_TOKEN) -> str:
    """X-Twilio-Signature with the twilio SDK's own validator."""
    return str(RequestValidator(token).compute_signature(url, params))


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        time.sleep(0.05)


def lead_body(retailer_id: str, location_id: str, phone: str, **lead: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": retailer_id,
        "SyncImmediately": True,
        "Lead": {
            "LocationId": location_id,
            "PageUrl": "https://qa.example.com/rugs/7",
            "Name": "Quinn Shopper",
            "PhoneNumber": phone,
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Do you have it in grey?",
        },
    }
    data["Lead"].update(lead)
    return data


@dataclass
class World:
    """Retailer A (locations A1 with the seed's number, A2 with another number, A3
    without one) and retailer B (location B1); keys of every kind; one real lead
    with its Twilio conversation in A1."""

    relay: RelayHandle
    sim: SimHandle
    seed: Seed
    location_a2: str
    location_a3_no_number: str
    retailer_b: str
    location_b1: str
    staff_a2: str  # staff key of retailer A, location A2 only
    staff_b1: str  # staff key of retailer B
    narrow_key: str  # a known key with only Dealer/status
    lead_id: str = ""
    customer: str = ""
    conversation_sid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.relay.url

    @property
    def all_key(self) -> str:
        return self.seed.lead_key

    @property
    def staff_key(self) -> str:
        return self.seed.staff_key

    def create(self, lead_id: str, body: Any, key: str | None = None) -> httpx.Response:
        return HTTP.post(
            f"{self.url}/Lead/{lead_id}/create",
            json=body,
            headers={"Authorization": f"Bearer {key or self.all_key}"},
            timeout=TIMEOUT,
        )

    def status(self, lead_id: str) -> dict[str, Any]:
        r = HTTP.get(
            f"{self.url}/Lead/{lead_id}/status",
            headers={"Authorization": self.all_key},
            timeout=TIMEOUT,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())


def build_world(
    relay: RelayHandle,
    sim: SimHandle,
    *,
    with_conversation: bool = True,
    web2text_number: str = "+13125550177",
) -> World:
    seed = seed_dealer(relay, web2text_number=web2text_number, pool=sim.pool)
    a2 = seed_location(relay, seed.retailer_id, "+14155550177", name="Uptown")
    a3 = seed_location(relay, seed.retailer_id, "+13125550166", name="Warehouse")
    # A location whose Web2Text number was removed (other systems write the directory too).
    tables_for(relay).directory.update_item(
        Key={"Id": a3},
        UpdateExpression="REMOVE Web2TextPhoneNumber ADD Version :one",
        ExpressionAttributeValues={":one": 1},
    )
    rb = seed_retailer(relay, name="Other Floors")
    b1 = seed_location(relay, rb, "+12125550177", name="Other Main")
    world = World(
        relay=relay,
        sim=sim,
        seed=seed,
        location_a2=a2,
        location_a3_no_number=a3,
        retailer_b=rb,
        location_b1=b1,
        staff_a2=issue_staff_key(relay, seed.retailer_id, [a2], staff_id="staff-a2"),
        staff_b1=issue_staff_key(relay, rb, [b1], staff_id="staff-b1"),
        narrow_key=issue_key(relay, ["Dealer/status"], description="qa: narrow"),
    )
    if with_conversation:
        world.customer = new_phone()
        world.lead_id = new_id()
        r = world.create(
            world.lead_id, lead_body(seed.retailer_id, seed.location_id, world.customer)
        )
        assert r.status_code == 200, r.text

        def synced() -> str | None:
            tw = world.status(world.lead_id).get("Integrations", {}).get("Twilio", {})
            assert tw.get("SyncStatus") != "ERROR", tw
            if tw.get("SyncStatus") == "SYNCED":
                return str(tw["Data"]["ConversationSID"])
            return None

        world.conversation_sid = wait_for(synced, what="the world's lead to sync with Twilio")
    return world


def revoked_key(relay: RelayHandle) -> str:
    key = issue_key(relay, ["*"], description="qa: revoked")
    assert auth.revoke_key(tables_for(relay), key)
    return key

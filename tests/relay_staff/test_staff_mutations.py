"""Staff sends, lead patches and read marks through real relays, DynamoDB Local and
the Twilio simulator (driven by the relay through the twilio SDK)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.relay import lead_store
from app.sandbox.twilio_sim import SimHandle
from tests.relay_staff.helpers import Conv
from tests.relay_staff.helpers import make_conversation as _make_conversation
from tests.support.relay import (
    METRICS_AUTH,
    RelayHandle,
    Seed,
    issue_key,
    issue_staff_key,
    new_prefix,
    seed_dealer,
    seed_location,
    seed_retailer,
    start_relay,
)
from tests.support.twilio_sim import running_simulator, sim_client, wait_until

pytestmark = pytest.mark.dynamodb


def make_conversation(relay: RelayHandle, sim: SimHandle, seed: Seed, **kwargs: Any) -> Conv:
    return _make_conversation(relay.tables, sim, seed, **kwargs)


STORE_PHONE = "+13125550199"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def relays(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, RelayHandle]]:
    prefix = new_prefix()
    a = start_relay(dynamodb_endpoint, sim, prefix=prefix, background=False)
    b = start_relay(dynamodb_endpoint, sim, prefix=prefix, background=False)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def seed(relays: tuple[RelayHandle, RelayHandle]) -> Seed:
    return seed_dealer(relays[0], web2text_number="+13125550111", store_number=STORE_PHONE)


@pytest.fixture(autouse=True)
def _clear_faults(sim: SimHandle) -> Iterator[None]:
    yield
    httpx.post(f"{sim.url}/_sim/faults", json={})


def _h(key: str, idem: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}", **extra}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return headers


def _send(relay: RelayHandle, key: str, sid: str, body: Any, idem: str | None) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/conversations/{sid}/messages",
        json={"body": body},
        headers=_h(key, idem),
        timeout=30,
    )


def _texts(sim: SimHandle, phone: str) -> list[str]:
    return [m["body"] for m in sim.handset(phone)]


# --------------------------------------------------------------------------- sends


def test_send_reaches_customer_and_store_once(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, b = relays
    conv = make_conversation(a, sim, seed)
    r = _send(a, seed.staff_key, conv.sid, "Hi Pat, yes we have it!", "k-happy")
    assert r.status_code == 202, r.text
    view = r.json()
    assert view["authorKind"] == "staff" and view["staffId"] == seed.staff_id
    assert view["author"] == f"staff:{seed.staff_id}" and view["staffName"] == "Sam Staff"
    assert view["idempotencyKey"] == "k-happy" and view["conversationSid"] == conv.sid
    assert view["messageSid"].startswith("IM") and view["locationId"] == seed.location_id
    wait_until(lambda: _texts(sim, conv.customer), what="customer text")
    wait_until(lambda: _texts(sim, conv.store_phone), what="store text")
    assert _texts(sim, conv.store_phone) == ["Hi Pat, yes we have it!"]
    assert _texts(sim, conv.customer) == ["Hi Pat, yes we have it!"]
    # Twilio message carries the key and the staff member in its Attributes
    twilio_msgs = sim_client(sim).conversations.v1.conversations(conv.sid).messages.list()
    assert len(twilio_msgs) == 1
    attrs = json.loads(twilio_msgs[0].attributes)
    assert attrs["IdempotencyKey"] == "k-happy" and attrs["StaffId"] == seed.staff_id
    # a repeat (on the other instance) gets the first answer and sends nothing
    again = _send(b, seed.staff_key, conv.sid, "Hi Pat, yes we have it!", "k-happy")
    assert again.status_code == 202 and again.json() == view
    assert again.headers["idempotent-replayed"] == "true"
    # a second message: staff participant is not added twice
    second = _send(b, seed.staff_key, conv.sid, "Come by at 3?", "k-happy-2")
    assert second.status_code == 202, second.text
    wait_until(lambda: len(_texts(sim, conv.customer)) == 2, what="second text")
    sim.wait_idle()
    assert _texts(sim, conv.customer) == ["Hi Pat, yes we have it!", "Come by at 3?"]
    parts = sim_client(sim).conversations.v1.conversations(conv.sid).participants.list()
    assert [p.identity for p in parts if p.identity] == [f"staff:{seed.staff_id}"]
    # effects: message stored, lead contacted with first reply time, changes published
    lead = lead_store.get_lead(a.tables, conv.lead_id)
    assert lead is not None and lead["PipelineStatus"] == "contacted"
    assert lead["FirstStaffReplyAt"]
    changes = httpx.get(
        f"{a.url}/v1/changes", headers=_h(seed.staff_key), params={"limit": 500}
    ).json()["changes"]
    kinds = {(c["entity"], c["id"]) for c in changes}
    assert ("message", view["messageSid"]) in kinds
    assert ("lead", conv.lead_id) in kinds and ("conversation", conv.sid) in kinds


def test_same_key_concurrently_on_two_instances_sends_once(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, b = relays
    conv = make_conversation(a, sim, seed)
    httpx.post(f"{sim.url}/_sim/faults", json={"latency_ms": 150})  # widen the race window
    barrier = threading.Barrier(6)

    def post(i: int) -> httpx.Response:
        barrier.wait()
        return _send((a, b)[i % 2], seed.staff_key, conv.sid, "only once", "k-race")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(post, range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(202) >= 1 and set(codes) <= {202, 409}, codes
    for r in answers:
        if r.status_code == 409:
            assert r.json()["reason"] == "idempotency_in_progress"
    sids = {r.json()["messageSid"] for r in answers if r.status_code == 202}
    assert len(sids) == 1
    final = _send(a, seed.staff_key, conv.sid, "only once", "k-race")
    assert final.status_code == 202 and final.json()["messageSid"] in sids
    sim.wait_idle()
    assert _texts(sim, conv.customer) == ["only once"]


def test_unknown_outcomes_never_duplicate(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    """Half of Twilio's answers are 5xx, some after the message was created: each
    send is retried by the client with its key until accepted; every text arrives once."""
    a, b = relays
    conv = make_conversation(a, sim, seed)
    httpx.post(
        f"{sim.url}/_sim/faults",
        json={"rate_5xx": 0.2, "rate_5xx_after_commit": 0.3, "seed": 7},
    )
    bodies = [f"message {i}" for i in range(5)]
    for i, text in enumerate(bodies):
        for attempt in range(30):
            r = _send((a, b)[attempt % 2], seed.staff_key, conv.sid, text, f"k-unknown-{i}")
            if r.status_code == 202:
                break
            assert r.status_code in (503, 409), r.text
            if r.status_code == 503:
                assert r.json()["reason"] == "upstream_unavailable"
        else:
            pytest.fail(f"{text} never accepted")
    httpx.post(f"{sim.url}/_sim/faults", json={})
    sim.wait_idle()
    assert sorted(_texts(sim, conv.customer)) == sorted(bodies)
    metrics = "".join(httpx.get(f"{r.url}/metrics", headers=METRICS_AUTH).text for r in (a, b))
    assert "w2t_twilio_errors_total" in metrics


def test_opted_out_customer_is_refused(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, _ = relays
    conv = make_conversation(a, sim, seed)
    a.tables.optouts.put_item(
        Item={
            "PhoneNumber": conv.customer,
            "OptedOutNumbers": {
                conv.customer_proxy: {
                    "DateOptedOut": "2026-01-01T00:00:00Z",
                    "OptOutRequest": "STOP",
                }
            },
        }
    )
    r = _send(a, seed.staff_key, conv.sid, "hello?", "k-optout")
    assert r.status_code == 422 and r.json()["reason"] == "recipient_opted_out"
    sim.wait_idle()
    assert _texts(sim, conv.customer) == []


def test_closed_conversation_is_refused(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, _ = relays
    conv = make_conversation(a, sim, seed, state="closed")
    r = _send(a, seed.staff_key, conv.sid, "hello?", "k-closed")
    assert r.status_code == 409 and r.json()["reason"] == "conversation_closed"


def _chicago_night() -> datetime:
    """The latest 09:00 UTC before now: 03:00 or 04:00 in Chicago (area code 312)."""
    now = datetime.now(UTC)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine <= now else nine - timedelta(days=1)


def test_quiet_hours_apply_in_the_customers_time_after_24h_without_contact(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, _ = relays
    # the store's zone (UTC+3) is at midday then: the customer's (312, Chicago) decides
    noon = seed_location(a, seed.retailer_id, "+13125550122", name="Noon", timezone="Etc/GMT-3")
    key = issue_staff_key(a, seed.retailer_id, [noon], staff_id="night-owl")
    stale = make_conversation(
        a, sim, seed, location_id=noon, submitted=datetime.now(UTC) - timedelta(days=3)
    )
    night = _chicago_night()
    a.ctx.clock = night.timestamp
    try:
        r = _send(a, key, stale.sid, "late offer", "k-quiet")
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["reason"] == "quiet_hours"
        allowed_at = datetime.fromisoformat(body["nextAllowedAt"].replace("Z", "+00:00"))
        # 08:00 in Chicago: 13:00 or 14:00 UTC
        assert allowed_at - night in (timedelta(hours=4), timedelta(hours=5))
        # the rejection is not remembered: the same key is retried once it is allowed
        # (here: the customer writes in, which lifts the quiet hours)
        a.tables.conversations.update_item(
            Key={"ConversationSid": stale.sid},
            UpdateExpression="SET LastInboundAt = :at",
            ExpressionAttributeValues={":at": (night - timedelta(hours=1)).isoformat()},
        )
        retry = _send(a, key, stale.sid, "late offer", "k-quiet")
        assert retry.status_code == 202, retry.text
        fresh = make_conversation(a, sim, seed, location_id=noon, submitted=night)
        assert _send(a, key, fresh.sid, "thanks for your interest", "k-quiet-2").status_code == 202
    finally:
        a.ctx.clock = time.time


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        ({"body": ""}, 400, "empty_message"),
        ({"body": "   \n"}, 400, "empty_message"),
        ({"body": "x" * 1601}, 422, "message_too_long"),
        ({"body": 42}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ([1, 2], 400, "invalid_request"),
    ],
)
def test_send_bad_bodies(
    relays: tuple[RelayHandle, RelayHandle],
    sim: SimHandle,
    seed: Seed,
    payload: Any,
    status: int,
    reason: str,
) -> None:
    a, _ = relays
    conv = _shared_conv(a, sim, seed)
    r = httpx.post(
        f"{a.url}/v1/conversations/{conv.sid}/messages",
        json=payload,
        headers=_h(seed.staff_key, "k-bad-" + reason),
    )
    assert (r.status_code, r.json()["reason"]) == (status, reason)


_SHARED: dict[str, Conv] = {}


def _shared_conv(relay: RelayHandle, sim: SimHandle, seed: Seed) -> Conv:
    if "c" not in _SHARED:
        _SHARED["c"] = make_conversation(relay, sim, seed, unread=0)
    return _SHARED["c"]


def test_send_needs_an_idempotency_key_and_json(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, _ = relays
    conv = _shared_conv(a, sim, seed)
    r = _send(a, seed.staff_key, conv.sid, "hi", None)
    assert r.status_code == 400 and r.json()["reason"] == "idempotency_key_required"
    r = httpx.post(
        f"{a.url}/v1/conversations/{conv.sid}/messages",
        content=b"{not json",
        headers={**_h(seed.staff_key, "k-json"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["reason"] == "invalid_json"
    # same key, different body: conflict, not a second message
    assert _send(a, seed.staff_key, conv.sid, "first", "k-conflict").status_code == 202
    r = _send(a, seed.staff_key, conv.sid, "second", "k-conflict")
    assert r.status_code == 422 and r.json()["reason"] == "idempotency_conflict"


# --------------------------------------------------------------------------- access


def _other_keys(relay: RelayHandle, seed: Seed) -> dict[str, str]:
    other_loc = seed_location(relay, seed.retailer_id, "+13125550133", name="Other Loc")
    other_ret = seed_retailer(relay, name="Other Retailer")
    other_ret_loc = seed_location(relay, other_ret, "+13125550134", name="Other Ret Loc")
    return {
        "location": issue_staff_key(relay, seed.retailer_id, [other_loc], staff_id="x1"),
        "retailer": issue_staff_key(relay, other_ret, [other_ret_loc], staff_id="x2"),
        # a key that lists our location but belongs to another retailer
        "spoofed": issue_staff_key(relay, other_ret, [seed.location_id], staff_id="x3"),
    }


def test_every_mutation_checks_the_keys_locations(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, _ = relays
    conv = make_conversation(a, sim, seed, unread=1)
    keys = _other_keys(a, seed)
    integration = issue_key(a, ["*"])
    calls = [
        (
            "POST",
            f"/v1/conversations/{conv.sid}/messages",
            {"body": "x"},
            {"Idempotency-Key": "a1"},
        ),
        ("POST", f"/v1/conversations/{conv.sid}/read", None, {}),
        ("PATCH", f"/v1/leads/{conv.lead_id}", {"status": "won"}, {"If-Match": '"1"'}),
    ]
    for method, path, payload, extra in calls:
        for name, key in keys.items():
            r = httpx.request(method, f"{a.url}{path}", json=payload, headers=_h(key, **extra))
            assert r.status_code == 403, (name, path, r.text)
            assert r.json()["reason"] == "forbidden"
        r = httpx.request(method, f"{a.url}{path}", json=payload, headers=_h(integration, **extra))
        assert r.status_code == 403
        r = httpx.request(method, f"{a.url}{path}", json=payload, headers=extra)
        assert r.status_code == 401
    for method, path, payload, extra in [
        ("POST", "/v1/conversations/CHnope/messages", {"body": "x"}, {"Idempotency-Key": "a2"}),
        ("POST", "/v1/conversations/CHnope/read", None, {}),
        ("PATCH", f"/v1/leads/{uuid.uuid4()}", {"status": "won"}, {"If-Match": '"1"'}),
        ("POST", "/v1/conversations/bad%20sid!/read", None, {}),
    ]:
        r = httpx.request(
            method, f"{a.url}{path}", json=payload, headers=_h(seed.staff_key, **extra)
        )
        assert r.status_code == 404, (path, r.text)
    sim.wait_idle()
    assert _texts(sim, conv.customer) == []
    lead = lead_store.get_lead(a.tables, conv.lead_id)
    assert lead is not None and lead["PipelineStatus"] == "new"


# --------------------------------------------------------------------------- leads


def _patch(
    relay: RelayHandle, key: str, lead_id: str, payload: Any, if_match: str | None
) -> httpx.Response:
    headers = _h(key)
    if if_match is not None:
        headers["If-Match"] = if_match
    return httpx.patch(f"{relay.url}/v1/leads/{lead_id}", json=payload, headers=headers)


def test_patch_lead_with_if_match(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, b = relays
    conv = make_conversation(a, sim, seed)
    r = _patch(a, seed.staff_key, conv.lead_id, {"status": "appointment"}, None)
    assert r.status_code == 428 and r.json()["reason"] == "precondition_required"
    r = _patch(a, seed.staff_key, conv.lead_id, {"status": "appointment"}, "abc")
    assert r.status_code == 400 and r.json()["reason"] == "invalid_if_match"
    r = _patch(
        a,
        seed.staff_key,
        conv.lead_id,
        {"status": "appointment", "assigneeId": seed.staff_id, "note": "Coming Sat 10am"},
        '"1"',
    )
    assert r.status_code == 200, r.text
    lead = r.json()
    assert lead["version"] == 2 and r.headers["etag"] == '"2"'
    assert lead["pipelineStatus"] == "appointment"
    assert lead["assigneeId"] == seed.staff_id and lead["assigneeName"] == "Sam Staff"
    assert lead["notes"][0]["body"] == "Coming Sat 10am"
    assert lead["notes"][0]["authorId"] == seed.staff_id
    assert {x["kind"] for x in lead["activity"]} >= {"pipeline", "assignment", "note"}
    # a stale edit (another desktop still at version 1) gets 412 with the current lead
    stale = _patch(b, seed.staff_key, conv.lead_id, {"status": "lost"}, '"1"')
    assert stale.status_code == 412
    body = stale.json()
    assert body["reason"] == "version_conflict" and body["current"] == lead
    # W/"2" is accepted too; unassign with an explicit null
    r = _patch(b, seed.staff_key, conv.lead_id, {"assigneeId": None}, 'W/"2"')
    assert r.status_code == 200 and r.json()["assigneeId"] is None and r.json()["version"] == 3
    # the shared item keeps its compatible attributes
    item = lead_store.get_lead(a.tables, conv.lead_id)
    assert (
        item is not None and item["Status"] == "ACTIVE" and item["Lead"]["Name"] == "Pat Customer"
    )
    changes = httpx.get(f"{a.url}/v1/changes", headers=_h(seed.staff_key), params={"limit": 500})
    versions = [c["version"] for c in changes.json()["changes"] if c["id"] == conv.lead_id]
    assert versions[-2:] == [2, 3]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "empty_patch"),
        ({"status": "sold"}, "invalid_request"),
        ({"note": ""}, "invalid_request"),
        ({"note": "x" * 4001}, "invalid_request"),
        ({"colour": "red"}, "invalid_request"),
        ("won", "invalid_request"),
    ],
)
def test_patch_bad_bodies(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed, payload: Any, reason: str
) -> None:
    a, _ = relays
    conv = _shared_conv(a, sim, seed)
    r = _patch(a, seed.staff_key, conv.lead_id, payload, '"1"')
    assert r.status_code == 400 and r.json()["reason"] == reason, r.text


def test_patch_repeat_with_its_key_gets_its_answer_not_a_conflict(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    """The desktop's PATCH succeeded but the answer was lost: its retry (same
    Idempotency-Key) must see its own 200, not a 412 against itself."""
    a, b = relays
    conv = make_conversation(a, sim, seed)
    headers = {**_h(seed.staff_key), "If-Match": '"1"', "Idempotency-Key": "patch-1"}
    url = f"/v1/leads/{conv.lead_id}"
    first = httpx.patch(a.url + url, json={"status": "won"}, headers=headers)
    assert first.status_code == 200 and first.json()["version"] == 2
    again = httpx.patch(b.url + url, json={"status": "won"}, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    # without the key the same request is a conflict with the current lead
    bare = httpx.patch(
        a.url + url, json={"status": "won"}, headers={**_h(seed.staff_key), "If-Match": '"1"'}
    )
    assert bare.status_code == 412 and bare.json()["current"]["version"] == 2


def test_concurrent_patches_one_wins(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, b = relays
    conv = make_conversation(a, sim, seed)
    barrier = threading.Barrier(6)
    statuses = ["contacted", "engaged", "appointment", "won", "lost", "engaged"]

    def patch(i: int) -> httpx.Response:
        barrier.wait()
        return _patch((a, b)[i % 2], seed.staff_key, conv.lead_id, {"status": statuses[i]}, '"1"')

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(patch, range(6)))
    assert sorted(r.status_code for r in answers) == [200] + [412] * 5
    item = lead_store.get_lead(a.tables, conv.lead_id)
    assert item is not None and int(item["Version"]) == 2


# --------------------------------------------------------------------------- read


def test_read_resets_unread_and_reaches_the_other_instance(
    relays: tuple[RelayHandle, RelayHandle], sim: SimHandle, seed: Seed
) -> None:
    a, b = relays
    conv = make_conversation(a, sim, seed, unread=3)
    cursor = httpx.get(
        f"{b.url}/v1/changes", headers=_h(seed.staff_key), params={"limit": 500}
    ).json()["cursor"]
    r = httpx.post(f"{a.url}/v1/conversations/{conv.sid}/read", headers=_h(seed.staff_key))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["unreadCount"] == 0 and view["version"] == 2
    assert view["locationId"] == seed.location_id and view["customerPhone"] == conv.customer
    after = httpx.get(
        f"{b.url}/v1/changes", headers=_h(seed.staff_key), params={"cursor": cursor}
    ).json()
    assert [(c["entity"], c["id"], c["version"]) for c in after["changes"]] == [
        ("conversation", conv.sid, 2)
    ]
    # reading again changes nothing and records nothing
    again = httpx.post(f"{b.url}/v1/conversations/{conv.sid}/read", headers=_h(seed.staff_key))
    assert again.status_code == 200 and again.json()["version"] == 2
    quiet = httpx.get(
        f"{b.url}/v1/changes", headers=_h(seed.staff_key), params={"cursor": after["cursor"]}
    ).json()
    assert quiet["changes"] == []

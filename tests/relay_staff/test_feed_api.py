"""`/v1/me`, `/v1/changes` and `/v1/stream` on real relays (uvicorn) and DynamoDB Local."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from app.relay import conversation_store
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

pytestmark = pytest.mark.dynamodb
# a stream's poll, and how long a change may take to arrive through the wake-up
POLL_S, WAKE_WAIT_S = 300.0, 60.0


@pytest.fixture(scope="module")
def pair(dynamodb_endpoint: str) -> Iterator[tuple[RelayHandle, RelayHandle]]:
    """Two relay instances on the same tables (one prefix)."""
    prefix = new_prefix()
    # polling stays at its default
    a = start_relay(dynamodb_endpoint, prefix=prefix, background=False, stream_heartbeat_s=0.3)
    b = start_relay(dynamodb_endpoint, prefix=prefix, background=False, stream_heartbeat_s=0.3)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def seed(pair: tuple[RelayHandle, RelayHandle]) -> Seed:
    return seed_dealer(pair[0], web2text_number="+13125550177")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_me_lists_the_keys_locations(pair: tuple[RelayHandle, RelayHandle], seed: Seed) -> None:
    a, _ = pair
    second = seed_location(a, seed.retailer_id, "+13125550166", name="Second Store")
    key = issue_staff_key(
        a, seed.retailer_id, [seed.location_id, second], staff_id="s2", name="Kim"
    )
    r = httpx.get(f"{a.url}/v1/me", headers={"Authorization": key})  # bare key accepted
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["staffId"] == "s2" and body["name"] == "Kim"
    assert body["retailerId"] == seed.retailer_id
    assert {loc["locationId"] for loc in body["locations"]} == {seed.location_id, second}
    main = next(loc for loc in body["locations"] if loc["locationId"] == seed.location_id)
    assert main["web2textNumber"] == "+13125550177" and main["timezone"] == "America/Chicago"


def test_me_hides_another_retailers_location(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, _ = pair
    other_retailer = seed_retailer(a, name="Other")
    foreign = seed_location(a, other_retailer, "+13125550155")
    key = issue_staff_key(a, seed.retailer_id, [seed.location_id, foreign], staff_id="s3")
    body = httpx.get(f"{a.url}/v1/me", headers=_auth(key)).json()
    assert [loc["locationId"] for loc in body["locations"]] == [seed.location_id]


@pytest.mark.parametrize("path", ["/v1/me", "/v1/changes", "/v1/stream"])
def test_auth_is_required(pair: tuple[RelayHandle, RelayHandle], seed: Seed, path: str) -> None:
    a, _ = pair
    r = httpx.get(f"{a.url}{path}")
    assert r.status_code == 401 and r.json()["reason"] == "unauthorized"
    r = httpx.get(f"{a.url}{path}", headers=_auth("w2t_not-a-key"))
    assert r.status_code == 401
    integration = issue_key(a, ["*"])  # not a staff key
    r = httpx.get(f"{a.url}{path}", headers=_auth(integration))
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"


def test_changes_are_scoped_to_the_keys_locations(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    other = seed_location(a, seed.retailer_id, "+13125550144", name="Elsewhere")
    a.ctx.change_log.record(seed.location_id, "lead", "lead-mine", 3, {"leadId": "lead-mine"})
    a.ctx.change_log.record(other, "lead", "lead-other", 1, {"leadId": "lead-other"})
    r = httpx.get(f"{b.url}/v1/changes", headers=_auth(seed.staff_key), params={"limit": 500})
    assert r.status_code == 200, r.text
    page = r.json()
    ids = [c["id"] for c in page["changes"]]
    assert "lead-mine" in ids and "lead-other" not in ids
    mine = next(c for c in page["changes"] if c["id"] == "lead-mine")
    assert mine == {
        "entity": "lead",
        "id": "lead-mine",
        "version": 3,
        "locationId": seed.location_id,
        "data": {"leadId": "lead-mine"},
    }
    assert page["hasMore"] is False
    again = httpx.get(
        f"{a.url}/v1/changes", headers=_auth(seed.staff_key), params={"cursor": page["cursor"]}
    ).json()
    assert again["changes"] == [] and again["cursor"] == page["cursor"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"limit": "0"}, "invalid_request"),
        ({"limit": "100000"}, "invalid_request"),
        ({"limit": "ten"}, "invalid_request"),
    ],
)
def test_changes_bad_input(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed, params: dict[str, str], reason: str
) -> None:
    r = httpx.get(f"{pair[0].url}/v1/changes", headers=_auth(seed.staff_key), params=params)
    assert r.status_code == 400 and r.json()["reason"] == reason


def test_stream_bad_cursor_is_400(pair: tuple[RelayHandle, RelayHandle], seed: Seed) -> None:
    r = httpx.get(
        f"{pair[0].url}/v1/stream", headers={**_auth(seed.staff_key), "Last-Event-ID": "zzz"}
    )
    assert r.status_code == 400 and r.json()["reason"] == "invalid_cursor"


def _new_conversation(relay: RelayHandle, seed: Seed, number: str, **fields: Any) -> str:
    """A conversation item written straight to the table (no change recorded)."""
    sid = "CH" + uuid.uuid4().hex
    conversation_store.put_conversation(
        relay.tables,
        {
            "ConversationSid": sid,
            "LocationId": seed.location_id,
            "LocationIds": [seed.location_id],
            "CustomerPhone": "+13125550100",
            "Web2TextNumber": number,
            "State": "active",
            "LeadIds": [],
            "UnreadCount": 2,
            "Version": 1,
            **fields,
        },
    )
    return sid


def _collect(
    url: str,
    key: str,
    headers: dict[str, str],
    out: list[Any],
    stop: threading.Event,
    ready: threading.Event,
) -> None:
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=5)) as client,
        connect_sse(client, "GET", f"{url}/v1/stream", headers={**_auth(key), **headers}) as source,
    ):
        ready.set()
        for sse in source.iter_sse():
            out.append((time.monotonic(), sse))
            if stop.is_set():
                return


def test_change_through_one_instance_reaches_a_stream_on_another(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    cursor = httpx.get(
        f"{b.url}/v1/changes", headers=_auth(seed.staff_key), params={"limit": 500}
    ).json()["cursor"]
    got: list[Any] = []
    stop, ready = threading.Event(), threading.Event()
    t = threading.Thread(
        target=_collect,
        args=(b.url, seed.staff_key, {"Last-Event-ID": cursor}, got, stop, ready),
        daemon=True,
    )
    t.start()
    assert ready.wait(10)
    time.sleep(0.5)
    assert not [e for _, e in got if e.event == "change"]  # nothing after the cursor
    sid = _new_conversation(a, seed, "+13125550177", UnreadCount=4, Version=6)
    # a staff action through instance A (an HTTP request, not a direct write)
    r = httpx.post(f"{a.url}/v1/conversations/{sid}/read", headers=_auth(seed.staff_key))
    assert r.status_code == 200, r.text
    # B learns of it by its own poll of the log (how soon: bench/sync/bench_latency)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not [e for _, e in got if e.event == "change"]:
        time.sleep(0.02)
    stop.set()
    changes = [(at, e) for at, e in got if e.event == "change"]
    assert changes, "no change arrived on the other instance's stream"
    _at, event = changes[0]
    change = json.loads(event.data)
    assert (change["entity"], change["id"], change["version"]) == ("conversation", sid, 7)
    assert change["data"]["unreadCount"] == 0
    # the event id resumes right after this change (on either instance)
    after = httpx.get(
        f"{a.url}/v1/changes", headers=_auth(seed.staff_key), params={"cursor": event.id}
    ).json()
    assert [c["id"] for c in after["changes"]] == []
    before = httpx.get(
        f"{a.url}/v1/changes", headers=_auth(seed.staff_key), params={"cursor": cursor}
    ).json()
    assert [c["id"] for c in before["changes"]] == [sid]


def test_a_change_stored_by_this_instance_wakes_its_streams_before_the_poll(
    dynamodb_endpoint: str,
) -> None:
    # a poll far longer than the waits below: only the in-process wake-up can
    # explain a change arriving in time (with minutes to spare on a busy machine)
    relay = start_relay(
        dynamodb_endpoint,
        prefix=new_prefix(),
        background=False,
        stream_heartbeat_s=0.3,
        stream_poll_s=POLL_S,
    )
    try:
        seed = seed_dealer(relay, web2text_number="+13125550188")
        cursor = httpx.get(
            f"{relay.url}/v1/changes", headers=_auth(seed.staff_key), params={"limit": 500}
        ).json()["cursor"]
        got: list[Any] = []
        stop, ready = threading.Event(), threading.Event()
        t = threading.Thread(
            target=_collect,
            args=(relay.url, seed.staff_key, {"Last-Event-ID": cursor}, got, stop, ready),
            daemon=True,
        )
        t.start()
        assert ready.wait(10)
        time.sleep(0.3)  # the stream is asleep until its next poll
        sids = []
        for n in range(3):  # every change wakes it, not only the first
            sid = _new_conversation(relay, seed, "+13125550188")
            sids.append(sid)
            written = time.monotonic()
            r = httpx.post(
                f"{relay.url}/v1/conversations/{sid}/read", headers=_auth(seed.staff_key)
            )
            assert r.status_code == 200, r.text

            def arrived(sid: str = sid) -> list[float]:
                return [
                    at for at, e in got if e.event == "change" and json.loads(e.data)["id"] == sid
                ]

            deadline = written + WAKE_WAIT_S
            while time.monotonic() < deadline and not arrived():
                time.sleep(0.01)
            assert arrived(), f"change {n} did not arrive well before the poll"
        # a burst: changes stored while the stream is reading or sending, not asleep,
        # still cut its next sleep short
        burst = []
        for _ in range(4):
            burst.append(_new_conversation(relay, seed, "+13125550188"))
        written = time.monotonic()
        for sid in burst:
            r = httpx.post(
                f"{relay.url}/v1/conversations/{sid}/read", headers=_auth(seed.staff_key)
            )
            assert r.status_code == 200, r.text

        def seen() -> set[str]:
            return {json.loads(e.data)["id"] for _, e in got if e.event == "change"}

        while time.monotonic() < written + WAKE_WAIT_S and not set(burst) <= seen():
            time.sleep(0.01)
        assert set(burst) <= seen(), "the burst did not arrive well before the poll"
        stop.set()
    finally:
        relay.stop()


def test_stream_heartbeats_and_resumes_with_last_event_id(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    loc = seed_location(a, seed.retailer_id, "+13125550133", name="Resume Store")
    key = issue_staff_key(a, seed.retailer_id, [loc], staff_id="s-resume")
    for i in range(3):
        a.ctx.change_log.record(loc, "message", f"IM{i}", 1, {"n": i})
    # read the first event, then disconnect
    with (
        httpx.Client(timeout=5) as client,
        connect_sse(client, "GET", f"{b.url}/v1/stream", headers=_auth(key)) as source,
    ):
        first = next(e for e in source.iter_sse() if e.event == "change")
    assert json.loads(first.data)["id"] == "IM0"
    # reconnect with Last-Event-ID on the other instance: IM1, IM2, then heartbeats
    lines: list[str] = []
    seen: list[str] = []
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "GET", f"{a.url}/v1/stream", headers={**_auth(key), "Last-Event-ID": first.id}
        ) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        started = time.monotonic()
        for line in resp.iter_lines():
            lines.append(line)
            if line.startswith("data:"):
                seen.append(json.loads(line[5:])["id"])
            if sum(1 for x in lines if x.startswith(":")) >= 2 or time.monotonic() - started > 4:
                break
    assert seen == ["IM1", "IM2"]
    assert sum(1 for x in lines if x.startswith(":")) >= 2  # heartbeat comments


def test_metrics_count_requests_per_app(pair: tuple[RelayHandle, RelayHandle], seed: Seed) -> None:
    a, b = pair
    for _ in range(3):
        httpx.get(f"{a.url}/v1/me", headers=_auth(seed.staff_key))
    httpx.get(f"{a.url}/v1/me")
    text = httpx.get(f"{a.url}/metrics", headers=METRICS_AUTH).text
    line = next(
        x
        for x in text.splitlines()
        if x.startswith("w2t_http_requests_total{")
        and 'route="/v1/me"' in x
        and 'status="200"' in x
    )
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert 'route="/v1/me",status="401"' in text
    assert "w2t_http_request_duration_seconds_bucket" in text
    # the other instance has its own registry: it never served /v1/me with 401
    other = httpx.get(f"{b.url}/metrics", headers=METRICS_AUTH).text
    assert 'route="/v1/me",status="401"' not in other
    metrics_of_a = a.ctx.metrics
    metrics_of_a.twilio_error(50416)
    # the gateway's own per-code tally is merged into the same series
    if a.ctx.twilio is not None:
        a.ctx.twilio.calls_by_code["50416"] = a.ctx.twilio.calls_by_code.get("50416", 0) + 2
    # webhooks are counted by kind from their form body (here: a bad signature)
    r = httpx.post(
        f"{a.url}/TwilioWebhooks/sync",
        data={"EventType": "onMessageAdded", "ConversationSid": "CH1"},
        headers={"X-Twilio-Signature": "bogus"},
    )
    assert r.status_code == 403
    text = httpx.get(f"{a.url}/metrics", headers=METRICS_AUTH).text
    expected = 3.0 if a.ctx.twilio is not None else 1.0
    assert f'w2t_twilio_errors_total{{code="50416"}} {expected}' in text
    assert 'w2t_webhooks_total{kind="onMessageAdded",outcome="rejected"} 1.0' in text


def test_stream_ends_when_the_key_is_revoked(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    from app.relay import auth

    a, _ = pair
    key = issue_staff_key(a, seed.retailer_id, [seed.location_id], staff_id="s-revoked")
    usual = a.ctx.settings
    a.ctx.settings = usual.with_overrides(stream_reauth_s=0.3)
    try:
        with (
            httpx.Client(timeout=10) as client,
            client.stream(
                "GET", f"{a.url}/v1/stream", headers={**_auth(key), "Last-Event-ID": ""}
            ) as resp,
        ):
            assert resp.status_code == 200
            auth.revoke_key(a.tables, key, cache=a.ctx.caches.keys)
            started = time.monotonic()
            for _ in resp.iter_lines():
                if time.monotonic() - started > 8:
                    break
            assert time.monotonic() - started < 5  # the server closed the stream
    finally:
        a.ctx.settings = usual
    assert httpx.get(f"{a.url}/v1/me", headers=_auth(key)).status_code == 401


def test_idle_streams_share_one_head_check_and_do_not_query(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    loc = seed_location(a, seed.retailer_id, "+13125550122", name="Idle Store")
    key = issue_staff_key(a, seed.retailer_id, [loc], staff_id="s-idle")
    a.ctx.change_log.record(loc, "lead", "before", 1, {})
    calls: dict[str, int] = {"Query": 0, "BatchGetItem": 0}
    # the change log's client (not the resource's, which the sweeper queries through)
    events = b.ctx.tables.client.meta.events

    def count(model: Any = None, **_: Any) -> None:
        operation = str(getattr(model, "name", ""))
        if operation in calls:
            calls[operation] += 1

    outs: list[list[Any]] = [[], [], []]
    stop = threading.Event()
    readies = [threading.Event() for _ in outs]
    threads = [
        threading.Thread(target=_collect, args=(b.url, key, {}, out, stop, ready), daemon=True)
        for out, ready in zip(outs, readies, strict=True)
    ]
    for t in threads:
        t.start()
    assert all(r.wait(10) for r in readies)
    wait_for = time.monotonic() + 5
    while time.monotonic() < wait_for and not all(
        any(e.event == "change" for _, e in out) for out in outs
    ):
        time.sleep(0.05)  # each stream delivered the existing change
    events.register("before-call.dynamodb", count, unique_id="test-idle-count")
    try:
        time.sleep(1.5)
        idle = dict(calls)
        written = time.monotonic()
        a.ctx.change_log.record(loc, "lead", "after", 2, {})
        deadline = written + 3
        while time.monotonic() < deadline and not all(
            any(json.loads(e.data)["id"] == "after" for _, e in out if e.event == "change")
            for out in outs
        ):
            time.sleep(0.02)
    finally:
        events.unregister("before-call.dynamodb", unique_id="test-idle-count")
        stop.set()
    assert idle["Query"] == 0, idle  # three idle streams, not a single Query
    assert 0 < idle["BatchGetItem"] <= 12, idle  # ~one shared read per 200 ms tick
    for out in outs:
        ids = [json.loads(e.data)["id"] for _, e in out if e.event == "change"]
        assert ids == ["before", "after"]

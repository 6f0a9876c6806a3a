"""Authorization over EVERY route of the relay's OpenAPI document (new routes are
picked up automatically and must be classified below, or the test fails):

- no key, an unknown key (Bearer and bare), a revoked key -> 401 `unauthorized`;
- a known key without that endpoint -> 403 `forbidden` (also with a broken body:
  auth happens before body parsing; and a broken body without a key -> 401);
- the right key, Bearer and bare -> accepted (neither 401 nor 403, never 5xx);
- signed webhooks take no key (see test_webhook_security.py);
- legacy plain-text keys work, and `web2text-relay admin migrate-keys` hashes them;
- staff keys are scoped to their locations: another location's or another
  retailer's entity -> 403 `forbidden`, an unknown id -> 404, and the feed and
  `/v1/me` never show another location.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.relay.auth import hash_key
from tests.relay_qa.helpers import (
    HTTP,
    TIMEOUT,
    World,
    assert_error,
    lead_body,
    new_id,
    new_phone,
    operations,
    revoked_key,
)
from tests.support.relay import METRICS_AUTH, issue_key, issue_staff_key, tables_for

STAFF = "staff"
PUBLIC = "public"
SIGNED = "signed"
SIGNED_WEBHOOKS = {
    "/TwilioWebhooks/sync",
    "/TwilioWebhooks/close",
    "/TwilioWebhooks/onIncomingMessage",
    "/TwilioWebhooks/onIncomingCall",
    "/TwilioWebhooks/onCallStatus",
}
PUBLIC_ROUTES = {("GET", "/healthz")}


def required_endpoint(method: str, path: str) -> str:
    """The `AuthorizedEndpoints` entry a route needs (DESIGN.md), STAFF, PUBLIC or SIGNED.
    An unknown route raises: classify it here, then it is covered by the matrix."""
    if (method, path) in PUBLIC_ROUTES:
        return PUBLIC
    if path in SIGNED_WEBHOOKS:
        return SIGNED
    if path.startswith("/v1/"):
        return STAFF
    m = re.fullmatch(r"/Lead/\{LeadId\}/(create|status|sync|close)(/send)?", path)
    if m:
        return f"Lead/{m[1]}"
    if re.fullmatch(r"/Dealer/\{UniversalRetailerId\}/status", path):
        return "Dealer/status"
    if re.fullmatch(r"/Admin/bulk(/send)?", path):
        return "Admin/bulk"
    if path == "/TwilioWebhooks/checkOptInStatus":
        return "TwilioWebhooks/getOptInNumber"
    raise AssertionError(f"unclassified route {method} {path}: add it to required_endpoint()")


OPERATIONS = operations()
KEYED = [op for op in OPERATIONS if required_endpoint(*op) not in (PUBLIC, SIGNED)]


def test_every_route_is_classified() -> None:
    kinds = {op: required_endpoint(*op) for op in OPERATIONS}
    assert {op for op, k in kinds.items() if k == SIGNED} == {("POST", p) for p in SIGNED_WEBHOOKS}
    # the lead service and the staff API are all there
    assert sum(k == STAFF for k in kinds.values()) >= 6
    assert sum(k.startswith("Lead/") for k in kinds.values()) >= 9


@dataclass
class Keys:
    revoked: str
    status_only: str  # a known key with only Lead/status
    dealer_only: str  # a known key with only Dealer/status


@pytest.fixture(scope="module")
def keys(world: World) -> Keys:
    return Keys(
        revoked=revoked_key(world.relay),
        status_only=issue_key(world.relay, ["Lead/status"], description="qa: status only"),
        dealer_only=world.narrow_key,
    )


def _wrong_keys(world: World, keys: Keys, endpoint: str) -> dict[str, str]:
    """Known keys that must get 403 on a route needing `endpoint`."""
    if endpoint == STAFF:
        return {"integration *": world.all_key, "narrow integration": keys.dealer_only}
    narrow = keys.status_only if endpoint == "Dealer/status" else keys.dealer_only
    return {"narrow integration": narrow, "staff": world.staff_key}


def _request(world: World, method: str, path: str) -> tuple[str, dict[str, str], Any]:
    """A well-formed request for the route (url, extra headers, JSON body or None)."""
    values = {
        "LeadId": new_id()
        if path.endswith(("create", "close", "create/send", "close/send"))
        else world.lead_id,
        "UniversalRetailerId": world.seed.retailer_id,
        "sid": world.conversation_sid,
        "lead_id": world.lead_id,
    }
    url = world.url + re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)
    headers: dict[str, str] = {}
    body: Any = None
    if "/create" in path:
        body = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
        body["SyncImmediately"] = False  # auth is the subject here, not Twilio
    elif path.startswith("/Admin/bulk"):
        body = {"Operation": "FIND", "Filter": {"LeadId": world.lead_id}}
    elif path.endswith("/checkOptInStatus"):
        body = {"PhoneNumber": "+13125550999"}
    elif path.endswith("/messages"):
        body = {"body": "QA auth matrix"}
        headers["Idempotency-Key"] = new_id()
    elif path.startswith("/v1/leads/"):
        body = {"note": "QA auth matrix"}
        headers["If-Match"] = '"1"'
    return url, headers, body


@contextmanager
def _send(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    json: Any = None,
    content: bytes | None = None,
) -> Iterator[httpx.Response]:
    # Streamed so that /v1/stream (an endless event stream) answers with its status.
    with HTTP.stream(
        method, url, headers=headers, json=json, content=content, timeout=TIMEOUT
    ) as response:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
        yield response


def _status(method: str, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    with _send(method, url, headers, **kw) as r:
        return r


@pytest.mark.parametrize(("method", "path"), KEYED, ids=[f"{m} {p}" for m, p in KEYED])
def test_route_auth_matrix(world: World, keys: Keys, method: str, path: str) -> None:
    endpoint = required_endpoint(method, path)
    url, extra, body = _request(world, method, path)
    failures: list[str] = []

    def expect(label: str, auth: str | None, status: int, reason: str, **kw: Any) -> None:
        headers = dict(extra)
        if auth is not None:
            headers["Authorization"] = auth
        r = _status(method, url, headers, **kw)
        try:
            assert_error(r, status, reason)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")

    broken = {"content": b'{"broken', "json": None}
    expect("no key", None, 401, "unauthorized", json=body)
    expect("empty header", "", 401, "unauthorized", json=body)
    expect("Bearer without key", "Bearer", 401, "unauthorized", json=body)
    expect("unknown key, Bearer", "Bearer w2t_not-a-key", 401, "unauthorized", json=body)
    expect("unknown key, bare", "w2t_not-a-key", 401, "unauthorized", json=body)
    expect("revoked key", f"Bearer {keys.revoked}", 401, "unauthorized", json=body)
    expect("hash of a key as the key", hash_key(world.all_key), 401, "unauthorized", json=body)
    if method != "GET":
        expect("broken body, no key", None, 401, "unauthorized", **broken)
    for label, key in _wrong_keys(world, keys, endpoint).items():
        expect(f"{label} key", f"Bearer {key}", 403, "forbidden", json=body)
        if method != "GET":
            expect(f"{label} key, broken body", key, 403, "forbidden", **broken)
    right = world.staff_key if endpoint == STAFF else world.all_key
    for label, auth in (
        ("Bearer", f"Bearer {right}"),
        ("bare", right),
        ("bearer", f"bearer {right}"),
    ):
        url, extra, body = _request(world, method, path)  # fresh ids for each attempt
        r = _status(method, url, {**extra, "Authorization": auth}, json=body)
        if r.status_code in (401, 403) or r.status_code >= 500:
            failures.append(f"right key ({label}): {r.status_code} {r.text[:300]}")
    assert not failures, "\n".join(failures)


def test_public_routes_need_no_key(world: World) -> None:
    for path in ("/healthz", "/openapi.json"):
        r = HTTP.get(world.url + path, timeout=TIMEOUT)
        assert r.status_code == 200, (path, r.text)


def test_metrics_need_the_metrics_token(world: World) -> None:
    """/metrics is behind its own bearer token (W2T_METRICS_TOKEN), never public, and
    no API key opens it."""
    url = world.url + "/metrics"
    assert_error(HTTP.get(url, timeout=TIMEOUT), 401, "unauthorized")
    for key in (world.all_key, world.staff_key, "wrong"):
        r = HTTP.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
        assert_error(r, 401, "unauthorized")
    r = HTTP.get(url, headers=METRICS_AUTH, timeout=TIMEOUT)
    assert r.status_code == 200 and "w2t_http_requests_total" in r.text, r.text[:300]


def test_endpoint_list_grants_exactly_what_it_names(world: World) -> None:
    """A key listing two endpoints gets those two and nothing else; Admin/bulk/FIND
    allows FIND but not CLOSE."""
    key = issue_key(world.relay, ["Lead/status", "Dealer/status"])
    auth = {"Authorization": key}
    assert HTTP.get(f"{world.url}/Lead/{world.lead_id}/status", headers=auth).status_code == 200
    r = HTTP.get(f"{world.url}/Dealer/{world.seed.retailer_id}/status", headers=auth)
    assert r.status_code == 200
    assert_error(
        HTTP.post(f"{world.url}/Lead/{world.lead_id}/sync", headers=auth), 403, "forbidden"
    )
    find = issue_key(world.relay, ["Admin/bulk/FIND"])
    r = HTTP.post(
        f"{world.url}/Admin/bulk",
        headers={"Authorization": find},
        json={"Operation": "FIND", "Filter": {"LeadId": world.lead_id}},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200 and r.json()["Count"] == 1, r.text
    r = HTTP.post(
        f"{world.url}/Admin/bulk",
        headers={"Authorization": find},
        json={"Operation": "CLOSE", "Filter": {"LeadId": world.lead_id}},
        timeout=TIMEOUT,
    )
    assert_error(r, 403, "forbidden")
    assert world.status(world.lead_id)["Status"] != "CLOSED"


# --------------------------------------------------------------------------- legacy keys


def _put_legacy(world: World, plain: str, **extra: Any) -> None:
    """A key item as the original service wrote it: the plain key as `API_Key`."""
    item = {
        "API_Key": plain,
        "Active": True,
        "DateCreated": datetime.now(UTC).isoformat(),
        "AuthorizedEndpoints": ["*"],
        "Description": "legacy key of the original service",
        **extra,
    }
    tables_for(world.relay).api_keys.put_item(Item=item)


def _migrate(world: World) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "W2T_TABLE_PREFIX": world.relay.settings.table_prefix,
        "W2T_DYNAMODB_ENDPOINT": str(world.relay.settings.dynamodb_endpoint),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    exe = os.path.join(os.path.dirname(sys.executable), "web2text-relay")
    return subprocess.run(
        [exe, "admin", "migrate-keys"], env=env, capture_output=True, text=True, timeout=120
    )


def test_legacy_plain_keys_accepted_then_migrated(world: World) -> None:
    plain = "legacy-" + hashlib.sha1(new_id().encode()).hexdigest()
    staff_plain = "legacy-staff-" + hashlib.sha1(new_id().encode()).hexdigest()
    revoked_plain = "legacy-revoked-" + hashlib.sha1(new_id().encode()).hexdigest()
    _put_legacy(world, plain)
    _put_legacy(
        world,
        staff_plain,
        AuthorizedEndpoints=["v1/*"],
        StaffId="legacy-staff",
        Name="Lee Legacy",
        RetailerId=world.seed.retailer_id,
        Locations=[world.seed.location_id],
    )
    _put_legacy(world, revoked_plain, Active=False)
    status_url = f"{world.url}/Lead/{world.lead_id}/status"

    def check_accepted() -> None:
        for auth in (plain, f"Bearer {plain}"):
            r = HTTP.get(status_url, headers={"Authorization": auth}, timeout=TIMEOUT)
            assert r.status_code == 200 and r.json()["LeadId"] == world.lead_id, r.text
        me = HTTP.get(world.url + "/v1/me", headers={"Authorization": staff_plain}, timeout=TIMEOUT)
        assert me.status_code == 200, me.text
        assert [loc["locationId"] for loc in me.json()["locations"]] == [world.seed.location_id]
        r = HTTP.get(status_url, headers={"Authorization": revoked_plain}, timeout=TIMEOUT)
        assert_error(r, 401, "unauthorized")

    check_accepted()
    done = _migrate(world)
    assert done.returncode == 0, done.stderr
    assert "3 key(s) migrated" in done.stderr
    check_accepted()
    table = tables_for(world.relay).api_keys
    for key in (plain, staff_plain, revoked_plain):
        assert "Item" not in table.get_item(Key={"API_Key": key}, ConsistentRead=True)
        item = table.get_item(Key={"API_Key": hash_key(key)}, ConsistentRead=True)["Item"]
        assert item["KeyHashed"] is True
    staff_item = table.get_item(Key={"API_Key": hash_key(staff_plain)})["Item"]
    assert staff_item["StaffId"] == "legacy-staff"
    assert staff_item["Locations"] == [world.seed.location_id]
    # Nothing plain is left: every stored key id is a SHA-256 hex digest.
    for item in table.scan()["Items"]:
        assert re.fullmatch(r"[0-9a-f]{64}", str(item["API_Key"])), item["API_Key"][:12]


# --------------------------------------------------------------------------- staff scoping


def _media_of_conversation(world: World) -> str:
    """A photo of the world's conversation (as a webhook would have kept it)."""
    from app.relay.media import remember_message_media

    sid = "ME" + hashlib.md5(world.conversation_sid.encode()).hexdigest()
    entry = {"Sid": sid, "ContentType": "image/jpeg", "Filename": "", "Size": 1}
    tables, locations = tables_for(world.relay), [world.seed.location_id]
    remember_message_media(tables, [entry], world.conversation_sid, locations, "IM")
    return sid


def _staff_entity_requests(world: World) -> list[tuple[str, str, dict[str, str], Any]]:
    return [
        ("GET", f"/v1/media/{_media_of_conversation(world)}", {}, None),
        (
            "POST",
            f"/v1/conversations/{world.conversation_sid}/messages",
            {"Idempotency-Key": new_id()},
            {"body": "should never be sent"},
        ),
        ("POST", f"/v1/conversations/{world.conversation_sid}/read", {}, None),
        ("POST", f"/v1/conversations/{world.conversation_sid}/presence", {}, {"state": "typing"}),
        ("PATCH", f"/v1/leads/{world.lead_id}", {"If-Match": '"1"'}, {"note": "not mine"}),
        ("POST", f"/v1/leads/{world.lead_id}/sync", {}, None),
        ("POST", f"/v1/leads/{world.lead_id}/close", {"If-Match": '"1"'}, {"reason": "not mine"}),
        ("POST", f"/v1/conversations/{world.conversation_sid}/opt-out", {}, {"reason": "no"}),
    ]


def test_staff_entity_routes_are_scoped_to_locations(world: World) -> None:
    """Every staff route that names an entity refuses another location's and another
    retailer's key with 403, before reading the body; unknown ids are 404."""
    staff_routes = {p for m, p in OPERATIONS if required_endpoint(m, p) == STAFF}
    entity_routes = {p for p in staff_routes if "{" in p}
    named = {
        "/v1/conversations/{sid}/messages",
        "/v1/conversations/{sid}/read",
        "/v1/conversations/{sid}/presence",
        "/v1/leads/{lead_id}",
        "/v1/leads/{lead_id}/sync",
        "/v1/leads/{lead_id}/close",
        "/v1/conversations/{sid}/opt-out",
        "/v1/scheduled/{sid}",
        "/v1/media/{sid}",
    }
    assert entity_routes == named, f"new staff entity route(s): {entity_routes - named}"
    misissued = issue_staff_key(  # retailer A's staff, but listing retailer B's location
        world.relay, world.seed.retailer_id, [world.location_b1], staff_id="staff-misissued"
    )
    strangers = {
        "other location": world.staff_a2,
        "other retailer": world.staff_b1,
        "location of another retailer": misissued,
    }
    before = len(world.sim.handset(world.customer))
    for method, path, headers, body in _staff_entity_requests(world):
        for label, key in strangers.items():
            for auth in (f"Bearer {key}", key):
                r = HTTP.request(
                    method,
                    world.url + path,
                    headers={**headers, "Authorization": auth},
                    json=body,
                    timeout=TIMEOUT,
                )
                assert_error(r, 403, "forbidden")
            r = HTTP.request(
                method,
                world.url + path,
                headers={**headers, "Authorization": key},
                content=b"{broken",
                timeout=TIMEOUT,
            )
            assert r.status_code == 403, (label, path, r.text)
    for method, path, headers, body in _staff_entity_requests(world):
        unknown = (
            path.replace(_media_of_conversation(world), "ME" + "0" * 32)
            .replace(world.conversation_sid, "CH" + "0" * 32)
            .replace(world.lead_id, new_id())
        )
        r = HTTP.request(
            method,
            world.url + unknown,
            headers={**headers, "Authorization": world.staff_key},
            json=body,
            timeout=TIMEOUT,
        )
        assert r.status_code == 404, (unknown, r.text)
        assert_error(r, 404)
    assert len(world.sim.handset(world.customer)) == before  # nothing was sent


def test_staff_feed_and_me_show_only_their_locations(world: World) -> None:
    def me(key: str) -> list[str]:
        r = HTTP.get(world.url + "/v1/me", headers={"Authorization": key}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return [loc["locationId"] for loc in r.json()["locations"]]

    assert me(world.staff_key) == [world.seed.location_id]
    assert me(world.staff_a2) == [world.location_a2]
    assert me(world.staff_b1) == [world.location_b1]
    misissued = issue_staff_key(
        world.relay, world.seed.retailer_id, [world.location_b1], staff_id="staff-misissued-2"
    )
    assert me(misissued) == []

    def changes(key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = ""
        while True:
            r = HTTP.get(
                world.url + "/v1/changes",
                params={"cursor": cursor, "limit": 500},
                headers={"Authorization": key},
                timeout=TIMEOUT,
            )
            assert r.status_code == 200, r.text
            page = r.json()
            out.extend(page["changes"])
            cursor = page["cursor"]
            if not page["hasMore"]:
                return out

    mine = changes(world.staff_key)
    assert any(c["id"] == world.lead_id for c in mine)
    for key in (world.staff_a2, world.staff_b1, misissued):
        seen = changes(key)
        assert all(c["locationId"] != world.seed.location_id for c in seen)
        assert all(c["id"] not in (world.lead_id, world.conversation_sid) for c in seen)


def test_key_revoked_by_another_process_stops_working_within_the_cache_ttl(world: World) -> None:
    """The relay caches active key records for `cache_ttl_s` (W2T_CACHE_TTL): a key
    revoked elsewhere (the admin CLI, another instance: a plain UpdateItem on the
    table, which this process's cache never hears of) is refused once that runs out."""
    key = issue_key(world.relay, ["*"], description="qa: revoked elsewhere")
    url = f"{world.url}/Lead/{world.lead_id}/status"
    assert HTTP.get(url, headers={"Authorization": key}).status_code == 200  # now cached
    tables_for(world.relay).api_keys.update_item(
        Key={"API_Key": hash_key(key)},
        UpdateExpression="SET Active = :f",
        ExpressionAttributeValues={":f": False},
    )
    ttl = world.relay.settings.cache_ttl_s
    started = time.monotonic()
    while HTTP.get(url, headers={"Authorization": key}).status_code == 200:
        assert time.monotonic() - started < ttl + 3.0, "revoked key still accepted"
        time.sleep(0.2)
    assert_error(HTTP.get(url, headers={"Authorization": key}), 401, "unauthorized")


def test_stream_bad_cursors_are_400_not_a_broken_stream(world: World) -> None:
    """/v1/stream is left out of the fuzz run (a valid request never ends): its
    inputs are checked here. A bad cursor is a 400 before the stream starts."""
    url = world.url + "/v1/stream"
    auth = {"Authorization": world.staff_key}
    for params, headers in (
        ({"cursor": "not-a-cursor"}, {}),
        ({"cursor": "\u0080" * 50}, {}),
        ({}, {"Last-Event-ID": "garbage"}),
        ({"cursor": "x" * 5000}, {}),
    ):
        with HTTP.stream("GET", url, params=params, headers={**auth, **headers}) as r:
            r.read()
            assert r.status_code == 400, (params, headers, r.status_code)
            assert_error(r, 400)
    with HTTP.stream("GET", url, headers=auth) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")

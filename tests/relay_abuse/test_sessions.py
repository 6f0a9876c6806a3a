"""Keys and sessions across relay instances: a revoked key stops working within
5 s everywhere (open streams included), a staff key holds at most 5 streams,
the staff API honours AuthorizedEndpoints, and idempotency records belong to one
key and one retailer."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from app.relay import auth
from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import (
    HTTP,
    admin,
    create,
    lead_body,
    new_id,
    new_phone,
    synced,
    wait_for,
)
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_staff_key,
    new_prefix,
    seed_dealer,
    seed_location,
    seed_retailer,
    start_relay,
)

REVOCATION_BOUND_S = 5.0


@pytest.fixture(scope="module")
def pair(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, RelayHandle]]:
    prefix = new_prefix()
    a = start_relay(dynamodb_endpoint, sim, prefix=prefix, streams_per_key=5)
    b = start_relay(dynamodb_endpoint, sim, prefix=prefix, streams_per_key=5)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def seed(pair: tuple[RelayHandle, RelayHandle], sim: SimHandle) -> Seed:
    return seed_dealer(pair[0], web2text_number="+13125550651", pool=sim.pool)


def _me(relay: RelayHandle, key: str) -> int:
    return HTTP.get(f"{relay.url}/v1/me", headers={"Authorization": key}).status_code


def _read_until_closed(url: str, key: str, ended: dict[str, float]) -> None:
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", url + "/v1/stream", headers={"Authorization": key}) as resp,
    ):
        ended["status"] = resp.status_code
        ended["opened"] = time.monotonic()
        for _ in resp.iter_lines():
            pass
    ended["closed"] = time.monotonic()


def test_a_revoked_key_stops_everywhere_within_five_seconds(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    staff = issue_staff_key(a, seed.retailer_id, [seed.location_id], staff_id="s-revoke")
    website = auth.issue_key(a.tables, ["Lead/status"])
    # both instances hold both keys in their caches, and b streams with the staff key
    for relay in (a, b):
        assert _me(relay, staff) == 200
        r = HTTP.get(f"{relay.url}/Lead/{new_id()}/status", headers={"Authorization": website})
        assert r.status_code == 200
    ended: dict[str, float] = {}
    reader = threading.Thread(target=_read_until_closed, args=(b.url, staff, ended))
    reader.start()
    wait_for(lambda: "opened" in ended, what="the stream to open")
    assert ended["status"] == 200
    # revoked by another process (the admin CLI): no instance is told
    for key in (staff, website):
        done = admin(a, "revoke-key", key)
        assert done.returncode == 0, done.stderr
    revoked = time.monotonic()

    def refused_everywhere() -> bool:
        status = [
            HTTP.get(f"{r.url}/Lead/{new_id()}/status", headers={"Authorization": website})
            for r in (a, b)
        ]
        return all(_me(r, staff) == 401 for r in (a, b)) and all(
            s.status_code == 401 for s in status
        )

    wait_for(refused_everywhere, timeout=REVOCATION_BOUND_S + 5, what="401 everywhere")
    assert time.monotonic() - revoked <= REVOCATION_BOUND_S
    reader.join(REVOCATION_BOUND_S + 5)
    assert "closed" in ended
    assert ended["closed"] - revoked <= REVOCATION_BOUND_S


def _open(stack: ExitStack, relay: RelayHandle, key: str) -> httpx.Response:
    client = stack.enter_context(httpx.Client(timeout=httpx.Timeout(10, read=30)))
    return stack.enter_context(
        client.stream("GET", relay.url + "/v1/stream", headers={"Authorization": key})
    )


def test_a_staff_key_holds_at_most_five_streams_across_instances(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    key = issue_staff_key(a, seed.retailer_id, [seed.location_id], staff_id="s-streams")
    other = issue_staff_key(a, seed.retailer_id, [seed.location_id], staff_id="s-other")
    with ExitStack() as outer:
        first = ExitStack()
        outer.enter_context(first)
        streams = [_open(first, a, key)]
        for relay in (a, a, b, b):
            streams.append(_open(outer, relay, key))
        assert [s.status_code for s in streams] == [200] * 5
        for relay in (a, b):
            with httpx.Client(timeout=10) as client:
                r = client.get(relay.url + "/v1/stream", headers={"Authorization": key})
            assert r.status_code == 429 and r.json()["reason"] == "too_many_streams", r.text
            assert int(r.headers["retry-after"]) >= 1
        # another key is not affected
        assert _open(outer, b, other).status_code == 200
        # a stream that ends gives its slot back
        first.close()

        def sixth() -> bool:
            with httpx.Client(timeout=httpx.Timeout(10, read=1)) as client:
                try:
                    with client.stream(
                        "GET", b.url + "/v1/stream", headers={"Authorization": key}
                    ) as r:
                        return r.status_code == 200
                except httpx.ReadTimeout:
                    return False

        wait_for(sixth, what="the freed slot")


def test_the_staff_api_honours_authorized_endpoints(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed, sim: SimHandle
) -> None:
    a, b = pair
    phone, lead_id = new_phone(), new_id()
    body = lead_body(seed.retailer_id, seed.location_id, phone)
    assert create(a, seed.lead_key, body, lead_id).status_code == 200
    sid = synced(a, seed.lead_key, lead_id)
    args = ["issue-key", "--staff", "--staff-id", "s-narrow", "--name", "Narrow"]
    args += ["--retailer-id", seed.retailer_id, "--locations", seed.location_id]
    args += ["--endpoints", "v1/me,v1/changes,v1/conversations/read"]
    done = admin(a, *args)
    assert done.returncode == 0, done.stderr
    narrow = done.stdout.strip()
    headers = {"Authorization": narrow}
    version = a.ctx.tables.leads.get_item(Key={"LeadId": lead_id})["Item"]["Version"]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v1/me", {}),
        ("GET", "/v1/changes", {}),
        ("POST", f"/v1/conversations/{sid}/read", {}),
        ("GET", "/v1/stream", {}),
        ("POST", f"/v1/conversations/{sid}/messages", {"json": {"body": "hi"}}),
        ("PATCH", f"/v1/leads/{lead_id}", {"json": {"status": "won"}}),
    ]
    codes = []
    for method, path, extra in calls:
        extra_headers = {"Idempotency-Key": new_id(), "If-Match": f'"{int(version)}"'}
        r = HTTP.request(method, b.url + path, headers={**headers, **extra_headers}, **extra)
        codes.append(r.status_code)
        if r.status_code == 403:
            assert r.json()["reason"] == "forbidden"
    assert codes == [200, 200, 200, 403, 403, 403]
    sim.wait_idle()
    assert not [m for m in sim.handset(phone) if m["body"] == "hi"]


def _legacy_key(relay: RelayHandle) -> str:
    """A key as the original stored it: the plain key is the item's id."""
    key = "legacy-" + uuid.uuid4().hex
    relay.tables.api_keys.put_item(
        Item={"API_Key": key, "Active": True, "AuthorizedEndpoints": ["*"], "Description": "old"}
    )
    return key


def test_idempotency_records_belong_to_one_key_and_one_retailer(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    first, second = _legacy_key(a), _legacy_key(a)
    lead_id, idem = new_id(), new_id()
    body = lead_body(seed.retailer_id, seed.location_id, new_phone(), sync=False)

    def post(relay: RelayHandle, key: str, payload: dict[str, Any]) -> httpx.Response:
        return HTTP.post(
            f"{relay.url}/Lead/{lead_id}/create",
            json=payload,
            headers={"Authorization": key, "idempotency-key": idem},
        )

    assert post(a, first, body).status_code == 200
    again = post(b, first, body)  # the same key repeating itself: the first answer
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    other = post(b, second, body)  # another legacy key: its own answer, not a replay
    assert other.status_code == 409 and other.json()["reason"] == "lead_exists", other.text
    assert "idempotent-replayed" not in other.headers
    # one key, one idempotency key, the same path, another retailer: not a conflict
    # with the first retailer's record but a request of its own
    retailer = seed_retailer(a, name="Second Retailer")
    location = seed_location(a, retailer, "+13125550652", name="Second Store")
    elsewhere = lead_body(retailer, location, new_phone(), sync=False)
    r = post(a, first, elsewhere)
    assert r.status_code == 409 and r.json()["reason"] == "lead_exists", r.text

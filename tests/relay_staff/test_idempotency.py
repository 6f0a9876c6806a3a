"""Idempotency records on DynamoDB Local: claim, replay, conflict, takeover, races."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.relay import idempotency as idem
from app.relay.idempotency import BeginState, IdempotencyConflict, IdempotencyStore
from app.sandbox.servers import UvicornThread

pytestmark = pytest.mark.dynamodb


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(make_table: Callable[[str, dict[str, Any]], str]) -> str:
    return make_table(idem.TABLE_SUFFIX, idem.TABLE_SPEC)


def test_first_claims_then_repeat_gets_first_answer(ddb: Any, table: str) -> None:
    store = IdempotencyStore(ddb, table)
    first = store.begin("s|k1", "fp")
    assert first.state is BeginState.NEW and first.token
    assert store.begin("s|k1", "fp").state is BeginState.IN_PROGRESS
    stored = store.complete("s|k1", first.token, 202, {"messageSid": "IM1"})
    assert stored.status_code == 202
    again = store.begin("s|k1", "fp")
    assert again.state is BeginState.DONE
    assert again.response is not None
    assert (again.response.status_code, again.response.body) == (202, {"messageSid": "IM1"})
    item = ddb.get_item(TableName=table, Key={"Key": {"S": "s|k1"}})["Item"]
    assert abs(int(item["ExpiresAt"]["N"]) - (time.time() + 24 * 3600)) < 60


def test_same_key_other_request_is_a_conflict(ddb: Any, table: str) -> None:
    store = IdempotencyStore(ddb, table)
    b = store.begin("s|k", "fp-a")
    with pytest.raises(IdempotencyConflict):
        store.begin("s|k", "fp-b")
    assert b.token
    store.complete("s|k", b.token, 200, {})
    with pytest.raises(IdempotencyConflict):
        store.begin("s|k", "fp-b")
    # scopes keep keys of different callers apart
    assert store.begin("other|k", "fp-b").state is BeginState.NEW


def test_expired_lease_is_taken_over_once(ddb: Any, table: str) -> None:
    clock = Clock()
    store = IdempotencyStore(ddb, table, lease_seconds=30, clock=clock)
    crashed = store.begin("s|k", "fp")
    assert crashed.state is BeginState.NEW
    clock.now += 10
    held = store.begin("s|k", "fp")
    assert held.state is BeginState.IN_PROGRESS and held.retry_after == pytest.approx(20, abs=0.01)
    clock.now += 25
    successor = store.begin("s|k", "fp")
    assert successor.state is BeginState.NEW and successor.taken_over
    assert store.begin("s|k", "fp").state is BeginState.IN_PROGRESS
    store.complete("s|k", successor.token or "", 202, {"n": 2})
    # the crashed holder comes back late: the first stored answer stays and is reported
    late = store.complete("s|k", crashed.token or "", 202, {"n": 1})
    assert late.body == {"n": 2}
    # a release by a stale holder does not delete the answer
    store.release("s|k", crashed.token or "")
    done = store.begin("s|k", "fp")
    assert done.state is BeginState.DONE and done.response and done.response.body == {"n": 2}


def test_abandon_hands_over_at_once_with_taken_over(ddb: Any, table: str) -> None:
    store = IdempotencyStore(ddb, table, lease_seconds=30)
    b = store.begin("s|k", "fp")
    store.abandon("s|k", b.token or "")
    retry = store.begin("s|k", "fp")
    assert retry.state is BeginState.NEW and retry.taken_over
    store.abandon("s|k", b.token or "")  # stale token: no effect on the new holder
    assert store.begin("s|k", "fp").state is BeginState.IN_PROGRESS


def test_release_lets_a_retry_run_and_extend_keeps_the_lease(ddb: Any, table: str) -> None:
    clock = Clock()
    store = IdempotencyStore(ddb, table, lease_seconds=30, clock=clock)
    b = store.begin("s|k", "fp")
    clock.now += 25
    assert store.extend("s|k", b.token or "")
    clock.now += 25
    assert store.begin("s|k", "fp").state is BeginState.IN_PROGRESS
    store.release("s|k", b.token or "")
    assert store.begin("s|k", "fp").state is BeginState.NEW


def test_expired_record_counts_as_absent(ddb: Any, table: str) -> None:
    clock = Clock()
    store = IdempotencyStore(ddb, table, ttl_seconds=60, clock=clock)
    b = store.begin("s|k", "fp")
    store.complete("s|k", b.token or "", 200, {"old": True})
    clock.now += 120  # DynamoDB has not deleted it yet (TTL is lazy)
    fresh = store.begin("s|k", "other-fp")
    assert fresh.state is BeginState.NEW


def test_concurrent_claims_one_winner(ddb: Any, table: str) -> None:
    store = IdempotencyStore(ddb, table)
    barrier = threading.Barrier(8)

    def claim(_: int) -> BeginState:
        barrier.wait()
        return store.begin("s|race", "fp").state

    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(claim, range(8)))
    assert states.count(BeginState.NEW) == 1
    assert states.count(BeginState.IN_PROGRESS) == 7


def test_concurrent_takeovers_one_winner(ddb: Any, table: str) -> None:
    clock = Clock()
    store = IdempotencyStore(ddb, table, lease_seconds=1, clock=clock)
    store.begin("s|t", "fp")
    clock.now += 5
    barrier = threading.Barrier(6)

    def claim(_: int) -> BeginState:
        barrier.wait()
        return store.begin("s|t", "fp").state

    with ThreadPoolExecutor(6) as pool:
        states = list(pool.map(claim, range(6)))
    assert states.count(BeginState.NEW) == 1


# -- the FastAPI helper, two app instances on one table -----------------------------------


def _app(store: IdempotencyStore, calls: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/things")
    async def make_thing(request: Request) -> Any:
        async def run(begin: idem.Begin) -> JSONResponse:
            calls.append("run")
            await _sleep(0.4)
            body = await request.json()
            if body.get("fail"):
                return JSONResponse({"code": 503, "reason": "x", "message": "x"}, status_code=503)
            return JSONResponse({"made": body["name"], "n": len(calls)}, status_code=201)

        return await idem.run_idempotent(
            store,
            scope="tester",
            key=request.headers.get("idempotency-key"),
            request_fingerprint=await idem.request_fingerprint(request),
            call=run,
        )

    return app


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


def test_helper_two_instances_one_key(ddb: Any, table: str) -> None:
    calls: list[str] = []
    store = IdempotencyStore(ddb, table)
    with UvicornThread(_app(store, calls)) as a, UvicornThread(_app(store, calls)) as b:
        barrier = threading.Barrier(2)

        def post(url: str) -> httpx.Response:
            barrier.wait()
            return httpx.post(
                f"{url}/things", json={"name": "x"}, headers={"Idempotency-Key": "k1"}
            )

        with ThreadPoolExecutor(2) as pool:
            r1, r2 = pool.map(post, [a.url, b.url])
        assert calls == ["run"]
        codes = sorted([r1.status_code, r2.status_code])
        assert codes == [201, 409]
        busy = r1 if r1.status_code == 409 else r2
        assert busy.json()["reason"] == "idempotency_in_progress"
        assert int(busy.headers["retry-after"]) >= 1
        winner = r1 if r1.status_code == 201 else r2
        replay = httpx.post(
            f"{b.url}/things", json={"name": "x"}, headers={"Idempotency-Key": "k1"}
        )
        assert replay.status_code == 201 and replay.json() == winner.json()
        assert replay.headers["idempotent-replayed"] == "true"
        assert calls == ["run"]
        conflict = httpx.post(
            f"{a.url}/things", json={"name": "y"}, headers={"Idempotency-Key": "k1"}
        )
        assert conflict.status_code == 422 and conflict.json()["reason"] == "idempotency_conflict"
        # 5xx answers are not remembered: the retry runs again
        f1 = httpx.post(f"{a.url}/things", json={"fail": 1}, headers={"Idempotency-Key": "k2"})
        f2 = httpx.post(f"{b.url}/things", json={"fail": 1}, headers={"Idempotency-Key": "k2"})
        assert (f1.status_code, f2.status_code) == (503, 503) and len(calls) == 3
        bad = httpx.post(
            f"{a.url}/things", json={"name": "x"}, headers={"Idempotency-Key": "a" * 300}
        )
        assert bad.status_code == 400 and bad.json()["reason"] == "invalid_idempotency_key"
        # no key: no record, runs every time
        httpx.post(f"{a.url}/things", json={"name": "z"})
        httpx.post(f"{a.url}/things", json={"name": "z"})
        assert len(calls) == 5

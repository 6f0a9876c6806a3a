"""Health, uniform errors, body cap, request ids (a real relay over HTTP)."""

from __future__ import annotations

import httpx

from app.relay.app import create_app
from app.sandbox.servers import UvicornThread
from tests.support.relay import RelayHandle


def test_healthz_checks_dynamodb(relay: RelayHandle) -> None:
    r = httpx.get(relay.url + "/healthz")
    assert r.status_code == 200 and r.json()["dynamodb"] == "ok"
    assert r.headers["x-request-id"]


def test_healthz_503_when_tables_missing(relay: RelayHandle) -> None:
    app = create_app(relay.settings.with_overrides(table_prefix="TESTMISSING", background=False))
    with UvicornThread(app) as srv:
        r = httpx.get(srv.url + "/healthz")
    assert r.status_code == 503 and r.json()["reason"] == "dynamodb_unavailable"


def test_unknown_path_and_method_are_json_errors(relay: RelayHandle) -> None:
    r = httpx.get(relay.url + "/nope")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Not Found", "reason": "not_found"}
    r = httpx.delete(relay.url + "/healthz")
    assert r.status_code == 405 and r.json()["reason"] == "method_not_allowed"


def test_body_cap_413(relay: RelayHandle) -> None:
    big = b"x" * (relay.settings.max_body_bytes + 1)
    r = httpx.post(relay.url + "/Lead/abc/create", content=big)
    assert r.status_code == 413 and r.json()["reason"] == "payload_too_large"

    def chunks():  # no Content-Length: the cap must hold for streamed bodies too
        for _ in range(10):
            yield b"y" * (relay.settings.max_body_bytes // 5)

    r = httpx.post(relay.url + "/Lead/abc/create", content=chunks())
    assert r.status_code == 413


def test_request_id_is_echoed(relay: RelayHandle) -> None:
    r = httpx.get(relay.url + "/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


def test_openapi(relay: RelayHandle) -> None:
    r = httpx.get(relay.url + "/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "Web2Text relay"

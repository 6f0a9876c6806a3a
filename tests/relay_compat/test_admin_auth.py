"""Ported: AdminService/Authentication.e2e.test.ts ("Admin Service
Authentication"): `POST /Admin/bulk` `{"Operation": "FIND", "Filter": "*"}`."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.relay_compat.conftest import call, new_id
from tests.support.relay import RelayHandle, Seed

FIND_ALL = {"Operation": "FIND", "Filter": "*"}


def unauthorized(r: httpx.Response) -> None:
    assert r.status_code == 401 and r.json()["reason"] == "unauthorized", r.text


def found(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"Count", "Result"} and body["Count"] == len(body["Result"]), body


def test_bulk_should_require_authentication_header(relay: RelayHandle) -> None:
    unauthorized(call(relay, "POST", "/Admin/bulk", json=FIND_ALL))


def test_bulk_should_not_allow_invalid_api_keys(relay: RelayHandle) -> None:
    unauthorized(call(relay, "POST", "/Admin/bulk", key=new_id(), json=FIND_ALL))


def test_bulk_should_not_allow_malformed_authentication_headers(relay: RelayHandle) -> None:
    unauthorized(call(relay, "POST", "/Admin/bulk", json=FIND_ALL, auth=("username", "password")))


def test_bulk_should_allow_valid_api_keys(relay: RelayHandle, seed: Seed) -> None:
    found(call(relay, "POST", "/Admin/bulk", key=seed.lead_key, json=FIND_ALL))


def test_bulk_should_allow_api_key_when_has_authorized_endpoint(
    relay: RelayHandle, key_with: Callable[[list[str]], str]
) -> None:
    key = key_with(["Admin/bulk/FIND"])  # the original's test wrote "/Admin/bulk/FIND"
    found(call(relay, "POST", "/Admin/bulk", key=key, json=FIND_ALL))


def test_bulk_should_not_allow_api_key_when_no_authorized_endpoint(
    relay: RelayHandle, key_with: Callable[[list[str]], str]
) -> None:
    key = key_with(["Random/Endpoint", "Random2/Endpoint2"])
    r = call(relay, "POST", "/Admin/bulk", key=key, json=FIND_ALL)
    # fixed fault: a known key without the endpoint is 403 (the original said 401)
    assert r.status_code == 403 and r.json()["reason"] == "forbidden", r.text

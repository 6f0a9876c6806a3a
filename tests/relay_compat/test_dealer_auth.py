"""Ported: DealerService/Authentication.e2e.test.ts ("Dealer Service
Authentication"): `GET /Dealer/{UniversalRetailerId}/status`."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.relay_compat.conftest import call, new_id
from tests.support.relay import RelayHandle, Seed


def unauthorized(r: httpx.Response) -> None:
    assert r.status_code == 401 and r.json()["reason"] == "unauthorized", r.text


def valid_dealer(r: httpx.Response, seed: Seed) -> None:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["Status"] == "VALID", body
    assert [loc["UniversalLocationId"] for loc in body["Locations"]] == [seed.location_id]


def test_status_should_require_authentication_header(relay: RelayHandle) -> None:
    unauthorized(call(relay, "GET", f"/Dealer/{new_id()}/status"))


def test_status_should_not_allow_invalid_api_keys(relay: RelayHandle) -> None:
    unauthorized(call(relay, "GET", f"/Dealer/{new_id()}/status", key=new_id()))


def test_status_should_not_allow_malformed_authentication_headers(relay: RelayHandle) -> None:
    unauthorized(call(relay, "GET", f"/Dealer/{new_id()}/status", auth=("username", "password")))


def test_status_should_allow_valid_api_keys(relay: RelayHandle, seed: Seed) -> None:
    valid_dealer(call(relay, "GET", f"/Dealer/{seed.retailer_id}/status", key=seed.lead_key), seed)


def test_status_should_allow_api_key_when_has_authorized_endpoint(
    relay: RelayHandle, seed: Seed, key_with: Callable[[list[str]], str]
) -> None:
    key = key_with(["Dealer/status"])  # the original's test wrote "/Dealer/status"
    valid_dealer(call(relay, "GET", f"/Dealer/{seed.retailer_id}/status", key=key), seed)


def test_status_should_not_allow_api_key_when_no_authorized_endpoint(
    relay: RelayHandle, seed: Seed, key_with: Callable[[list[str]], str]
) -> None:
    key = key_with(["Random/Endpoint", "Random2/Endpoint2"])
    r = call(relay, "GET", f"/Dealer/{seed.retailer_id}/status", key=key)
    # fixed fault: a known key without the endpoint is 403 (the original said 401)
    assert r.status_code == 403 and r.json()["reason"] == "forbidden", r.text

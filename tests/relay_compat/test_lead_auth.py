"""Ported: LeadService/Authentication.e2e.test.ts ("Lead Service Authentication"),
for each of status, create, sync and close. Every request carries the original's
body `{}` for a LeadId nobody created."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.relay_compat.conftest import call, new_id
from tests.support.relay import RelayHandle, Seed

ENDPOINTS = ["status", "create", "sync", "close"]


def allowed_answer(endpoint: str, lead_id: str, r: httpx.Response) -> None:
    """What a key that may call `endpoint` gets for `{}` and an unknown LeadId."""
    if endpoint == "status":
        assert r.status_code == 200 and r.json() == {"Status": "NONEXISTANT"}, r.text
    elif endpoint == "create":
        assert r.status_code == 400 and r.json()["reason"] == "invalid_field", r.text
    else:  # the original's 409 for a lead that does not exist
        assert r.status_code == 409 and r.json()["reason"] == "lead_not_found", r.text
        assert r.json()["message"] == (
            f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'NONEXISTANT'"
        )


def unauthorized(r: httpx.Response) -> None:
    assert r.status_code == 401 and r.json()["reason"] == "unauthorized", r.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_should_require_authentication_header(relay: RelayHandle, endpoint: str) -> None:
    unauthorized(call(relay, "POST", f"/Lead/{new_id()}/{endpoint}", json={}))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_should_not_allow_invalid_api_keys(relay: RelayHandle, endpoint: str) -> None:
    unauthorized(call(relay, "POST", f"/Lead/{new_id()}/{endpoint}", key=new_id(), json={}))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_should_not_allow_malformed_authentication_headers(
    relay: RelayHandle, endpoint: str
) -> None:
    r = call(relay, "POST", f"/Lead/{new_id()}/{endpoint}", json={}, auth=("username", "password"))
    unauthorized(r)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_should_allow_valid_api_keys(relay: RelayHandle, seed: Seed, endpoint: str) -> None:
    lead_id = new_id()
    r = call(relay, "POST", f"/Lead/{lead_id}/{endpoint}", key=seed.lead_key, json={})
    allowed_answer(endpoint, lead_id, r)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_should_allow_api_key_when_has_authorized_endpoint(
    relay: RelayHandle, key_with: Callable[[list[str]], str], endpoint: str
) -> None:
    # The original's test stored "/Lead/<endpoint>", which its own check (the
    # endpoint named "Lead/<endpoint>") never matched; the key names it as checked.
    key = key_with([f"Lead/{endpoint}"])
    lead_id = new_id()
    r = call(relay, "POST", f"/Lead/{lead_id}/{endpoint}", key=key, json={})
    allowed_answer(endpoint, lead_id, r)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_should_not_allow_api_key_when_no_authorized_endpoint(
    relay: RelayHandle, key_with: Callable[[list[str]], str], endpoint: str
) -> None:
    key = key_with(["Random/Endpoint", "Random2/Endpoint2"])
    r = call(relay, "POST", f"/Lead/{new_id()}/{endpoint}", key=key, json={})
    # fixed fault: a known key without the endpoint is 403 (the original said 401)
    assert r.status_code == 403 and r.json()["reason"] == "forbidden", r.text

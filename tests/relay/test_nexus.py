"""Nexus as the directory source (the lead-systems simulator's Nexus and Cognito;
moto's Secrets Manager for the token's client): leads validated against Nexus,
its token's expiry honoured, a 401 refreshed once, outages bridged by the cache
and the local directory, the connectors' stores and RLM key read from it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from app.relay import directory
from app.relay.connectors.http import ConnectorHttp, ConnectorStats, RetryPolicy
from app.relay.connectors.nexus import NexusClient, client_from_secret
from app.relay.connectors.settings import NexusSettings
from app.sandbox.lead_systems_sim import LeadSystemsHandle
from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.connector_helpers import (
    connected_relay,
    create_lead,
    dhq_inquiries,
    new_number,
    status,
    wait_status,
)
from tests.support.relay import RelayHandle, Seed, issue_key, seed_pool

SIM_SID = "AC" + "2" * 32
SIM_TOKEN = "nexus-token"
POOL = [f"+1{area}55506{i:02d}" for area in ("312", "415") for i in range(10)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(
    dynamodb_endpoint: str, sim: SimHandle, _lead_systems_server: LeadSystemsHandle
) -> Iterator[RelayHandle]:
    with connected_relay(dynamodb_endpoint, sim, _lead_systems_server, nexus=True) as handle:
        seed_pool(handle, POOL)
        yield handle


def nexus_dealer(
    relay: RelayHandle, lead_systems: LeadSystemsHandle, **retailer: Any
) -> tuple[Seed, str]:
    """A retailer and one store known only to Nexus (nothing in the local directory)."""
    retailer_id, location_id = str(uuid.uuid4()), str(uuid.uuid4())
    number = new_number()
    state = lead_systems.state.nexus
    state.put_retailer(
        {"id": retailer_id, "name": "Nexus Floors", "rlm_api_key": "nexus-rlm", **retailer}
    )
    local = "(" + number[2:5] + ") " + number[5:8] + "-" + number[8:]
    state.put_store(
        {
            "location_id": location_id,
            "retailer_id": retailer_id,
            "location_name": "Gastonia",
            "Web2Text_Phone_Number": local,  # as people type it
            "universal_id": "dhq-store-9",
            "street_address": "9 Elm St",
        }
    )
    key = issue_key(relay, ["*"])
    seed = Seed(retailer_id, location_id, number, key, "", "", POOL)
    return seed, number


def test_a_lead_is_validated_and_texted_from_nexus_alone(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed, number = nexus_dealer(relay, lead_systems)
    lead_id = create_lead(relay, seed, new_number("415"))
    twilio = wait_status(relay, seed, lead_id, "Twilio", "SYNCED")
    conv = sim.state.get_conversation(twilio["Data"]["ConversationSID"])
    assert number in {p.address for p in conv.participants.values()}  # E.164 from "(312) ..."
    rlm = wait_status(relay, seed, lead_id, "RLM", "SYNCED")  # Nexus's rlm_api_key
    assert rlm["Data"]["LeadUUID"]
    wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    [inquiry] = dhq_inquiries(lead_systems, lead_id)
    assert inquiry["body"]["universal_store_id"] == "dhq-store-9"
    assert inquiry["body"]["store_address"] == "9 Elm St"
    dealer = httpx.get(
        relay.url + f"/Dealer/{seed.retailer_id}/status", headers={"Authorization": seed.lead_key}
    ).json()
    assert dealer["Status"] == "VALID"
    [store_entry] = dealer["Locations"]
    assert store_entry["UniversalLocationId"] == seed.location_id
    assert (store_entry["Name"], store_entry["StreetAddress"]) == ("Gastonia", "9 Elm St")
    assert store_entry["Web2TextPhoneNumber"] == number

    # read once, then from the cache
    def reads() -> list[dict[str, Any]]:
        return [r for r in lead_systems.received("nexus") if r["path"].endswith(seed.retailer_id)]

    first = reads()
    create_lead(relay, seed, new_number("415"))
    assert len(reads()) == len(first)
    basic = [r for r in lead_systems.received("nexus") if r["path"].startswith("/nexus/")]
    assert basic and all(r["auth"] == "Basic" for r in basic)


@pytest.mark.parametrize(
    ("retailer", "reason"),
    [
        ({"status": "Churned_Customer"}, "retailer_churned"),
        (
            {"subscriptions": [{"status": "Active", "web2text_opt_out": True}]},
            "retailer_opted_out",
        ),
    ],
)
def test_nexus_says_no(
    relay: RelayHandle,
    lead_systems: LeadSystemsHandle,
    retailer: dict[str, Any],
    reason: str,
) -> None:
    seed, _ = nexus_dealer(relay, lead_systems, **retailer)
    r = httpx.post(
        relay.url + f"/Lead/{uuid.uuid4()}/create",
        headers={"Authorization": seed.lead_key},
        json={
            "UniversalRetailerId": seed.retailer_id,
            "Lead": {
                "LocationId": seed.location_id,
                "PageUrl": "https://a.example",
                "Name": "Pat",
                "PhoneNumber": new_number("415"),
                "CustomerMessage": "hi",
            },
        },
    )
    assert r.status_code == 400 and r.json()["reason"] == reason


def test_an_outage_is_bridged_by_what_was_read_and_else_answered_503(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed, _ = nexus_dealer(relay, lead_systems)
    lead_id = create_lead(relay, seed, new_number("415"))
    wait_status(relay, seed, lead_id, "Twilio", "SYNCED")
    relay.ctx.connectors.directory._fresh.clear()  # as if the cache's time had run out
    lead_systems.set_faults({"nexus": {"rate_5xx": 1.0}})
    try:
        create_lead(relay, seed, new_number("415"))  # Nexus's last answer stands in
        other, _ = nexus_dealer(relay, lead_systems)
        r = httpx.post(
            relay.url + f"/Lead/{uuid.uuid4()}/create",
            headers={"Authorization": other.lead_key},
            json={
                "UniversalRetailerId": other.retailer_id,
                "Lead": {
                    "LocationId": other.location_id,
                    "PageUrl": "https://a.example",
                    "Name": "Pat",
                    "PhoneNumber": new_number("415"),
                    "CustomerMessage": "hi",
                },
            },
        )
        assert r.status_code == 503 and r.json()["reason"] == "directory_unavailable"
    finally:
        lead_systems.set_faults({})


def test_dhq_says_when_nexus_has_no_such_store(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed, _ = nexus_dealer(relay, lead_systems)
    lead_id = create_lead(relay, seed, new_number("415"))
    wait_status(relay, seed, lead_id, "Twilio", "SYNCED")
    wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    lead_systems.state.nexus.stores.pop(seed.location_id)
    from app.relay.connectors.base import IntegrationError
    from app.relay.connectors.dhq import DhqIntegration

    [dhq] = [i for i in relay.ctx.connectors.integrations if isinstance(i, DhqIntegration)]
    lead = dict(status(relay, seed, lead_id), LeadId=lead_id)
    lead["Integrations"] = {}
    with pytest.raises(IntegrationError) as failed:
        dhq._create_remote(relay.ctx, lead)
    assert failed.value.message == f"Store '{seed.location_id}' does not exist in Nexus API"


def _client(lead_systems: LeadSystemsHandle, **overrides: Any) -> NexusClient:
    env = lead_systems.env()
    settings = NexusSettings(
        api_url=env["NEXUS_API_URL"],
        username=env["NEXUS_API_USERNAME"],
        password=env["NEXUS_API_PASSWORD"],
        aws_api_url=env["NEXUS_AWS_API_URL"],
        token_url=env["NEXUS_COGNITO_TOKEN_URL"],
        client_id=env["NEXUS_COGNITO_CLIENT_ID"],
        client_secret=env["NEXUS_COGNITO_CLIENT_SECRET"],
        **overrides,
    )
    http = ConnectorHttp("Nexus", 2.0, RetryPolicy(2, 0.01, 0.02), ConnectorStats())
    return NexusClient(settings, http)


def _aws_statuses(lead_systems: LeadSystemsHandle, query: str = "") -> list[int | None]:
    return [
        r["status"]
        for r in lead_systems.received("nexus")
        if "nexus-aws" in r["path"] and query in r["query"]
    ]


def test_the_token_is_kept_until_it_nearly_expires(lead_systems: LeadSystemsHandle) -> None:
    lead_systems.state.nexus.put_store({"location_id": "l1", "retailer_id": "r1"})
    # a 12 s token is used for half its life: 6 s of slack for a busy machine between
    # the client's check and the server's
    lead_systems.state.cognito.set_ttl(12)
    client = _client(lead_systems)
    assert client.store("l1") == {"location_id": "l1", "retailer_id": "r1"}
    assert client.store("l1") is not None and client.token is not None
    assert client.token.fetched == 1  # reused
    deadline = time.monotonic() + 120
    while client.token.fetched < 3:  # renewed before each expiry
        assert client.store("l1") is not None
        assert time.monotonic() < deadline
    # never used an expired one (the module's relay asks the shared simulator for its
    # own stores meanwhile: only this client's lookups of "l1" count)
    mine = _aws_statuses(lead_systems, "location_id=l1")
    assert len(mine) >= 3 and 401 not in mine


def test_a_401_refreshes_the_token_once(lead_systems: LeadSystemsHandle) -> None:
    lead_systems.state.nexus.put_store({"location_id": "l2", "retailer_id": "r1"})
    client = _client(lead_systems)
    assert client.store("l2") is not None
    lead_systems.state.cognito.revoke_all()
    assert client.store("l2") is not None
    assert _aws_statuses(lead_systems) == [200, 401, 200]
    assert client.token is not None and client.token.fetched == 2
    assert client.store("nope") is None  # 404: no such store


@pytest.fixture(scope="module")
def secrets_manager() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_the_cognito_client_comes_from_secrets_manager(
    lead_systems: LeadSystemsHandle, secrets_manager: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager)
    config = lead_systems.config
    sm = boto3.client(
        "secretsmanager",
        region_name="us-east-2",
        endpoint_url=secrets_manager,
        aws_access_key_id="nexus-reader",
        aws_secret_access_key="x",
    )
    sm.create_secret(
        Name="nexus/cognito",
        SecretString=json.dumps(
            {
                "userPoolDomainName": "nexus-pool",
                "userPoolRegion": "us-east-2",
                "clientId": config.cognito_client_id,
                "clientSecret": config.cognito_client_secret,
            }
        ),
    )
    from_secret = dict(
        secret_name="nexus/cognito",
        auth_access_key_id="nexus-reader",
        auth_secret_access_key="x",
        auth_region="us-east-2",
    )
    plain = NexusSettings(api_url="https://n", username="u", password="p", **from_secret)
    assert client_from_secret(plain).token_url == (
        "https://nexus-pool.auth.us-east-2.amazoncognito.com/oauth2/token"
    )
    lead_systems.state.nexus.put_store({"location_id": "l3", "retailer_id": "r1"})
    client = _client(lead_systems, **from_secret)
    object.__setattr__(client.settings, "client_id", None)  # not given: read the secret
    object.__setattr__(client.settings, "client_secret", None)
    assert client.store("l3") is not None


def test_a_retailers_countries_hold_when_nexus_answers_for_it(
    relay: RelayHandle, lead_systems: LeadSystemsHandle
) -> None:
    """Nexus knows nothing of countries: the relay's own (`add-retailer --countries`)
    still limit whom the retailer's leads text."""
    seed, _ = nexus_dealer(relay, lead_systems)
    directory.put_retailer(relay.tables, seed.retailer_id, "Nexus Floors", countries=["US"])

    def create(phone: str) -> httpx.Response:
        return httpx.post(
            relay.url + f"/Lead/{uuid.uuid4()}/create",
            headers={"Authorization": seed.lead_key},
            json={
                "UniversalRetailerId": seed.retailer_id,
                "SyncImmediately": False,
                "Lead": {
                    "LocationId": seed.location_id,
                    "PageUrl": "https://a.example",
                    "Name": "Pat",
                    "PhoneNumber": phone,
                    "CustomerMessage": "hi",
                },
            },
        )

    refused = create("+1416555" + new_number()[-4:])  # Toronto
    assert refused.status_code == 400 and refused.json()["reason"] == "country_not_allowed"
    assert create(new_number("415")).status_code == 200
    # its status still comes from Nexus
    r = httpx.get(
        relay.url + f"/Dealer/{seed.retailer_id}/status", headers={"Authorization": seed.lead_key}
    )
    assert r.json()["Status"] == "VALID"

"""Shared by the connector tests: a relay with connectors pointed at the lead-systems
simulator, a dealer seeded with RLM/DHQ settings, leads, waits."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from app.relay.connectors.directory_settings import set_location_settings, set_retailer_settings
from app.relay.connectors.settings import ConnectorSettings
from app.sandbox.lead_systems_sim import LeadSystemsHandle
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay, tables_for

BOTPRESS_TABLE = "Int_Connor_Conversations_Table"
_numbers = itertools.count(100)


def connector_settings(
    lead_systems: LeadSystemsHandle, *, nexus: bool = False, **env: str
) -> ConnectorSettings:
    """Every connector aimed at the simulator, with short timeouts and backoff;
    Nexus only with `nexus=True` (else the local directory describes the stores)."""
    base = {k: v for k, v in lead_systems.env().items() if nexus or not k.startswith("NEXUS_")}
    base.update(
        W2T_CONNECTOR_TIMEOUT="1", W2T_CONNECTOR_BACKOFF="0.01", W2T_CONNECTOR_BACKOFF_MAX="0.05"
    )
    base.update(env)
    return ConnectorSettings.from_env(base)


@contextmanager
def connected_relay(
    dynamodb_endpoint: str, sim: Any, lead_systems: LeadSystemsHandle, *, nexus: bool = False
) -> Iterator[RelayHandle]:
    """A relay with every connector aimed at the simulator (see `connector_settings`)
    and a quick sweeper, so that stuck connector work is picked up within a test."""
    handle = start_relay(
        dynamodb_endpoint,
        sim,
        sweeper_interval_s=0.3,
        stuck_after_s=1.0,
        connectors=connector_settings(lead_systems, nexus=nexus),
    )
    try:
        yield handle
    finally:
        handle.stop()


def new_number(area: str = "312") -> str:
    return f"+1{area}555{next(_numbers) % 10000:04d}"


def seed_connected_dealer(
    relay: RelayHandle, pool: list[str], *, rlm_key: str | None = "rlm-key-1"
) -> Seed:
    """A dealer whose retailer has an RLM key and whose location a DHQ store id and
    street address (the local directory standing in for Nexus)."""
    seed = seed_dealer(relay, web2text_number=new_number(), pool=pool)
    tables = tables_for(relay)
    if rlm_key:
        set_retailer_settings(tables, seed.retailer_id, rlm_api_key=rlm_key)
    set_location_settings(
        tables,
        seed.location_id,
        universal_store_id=f"dhq-{seed.location_id[:8]}",
        street_address="1 Main St, Gastonia, NC",
    )
    return seed


def create_lead(relay: RelayHandle, seed: Seed, phone: str, **lead: Any) -> str:
    lead_id = str(uuid.uuid4())
    body = {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": seed.retailer_id,
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://floors.example/oak",
            "IPAddress": "203.0.113.9",
            "Name": "Robin  Q Buyer",
            "PhoneNumber": phone,
            "CustomerMessage": "Is the oak in stock?",
            **lead,
        },
    }
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/create",
        headers={"Authorization": seed.lead_key},
        json=body,
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return lead_id


def status(relay: RelayHandle, seed: Seed, lead_id: str) -> dict[str, Any]:
    r = httpx.get(
        relay.url + f"/Lead/{lead_id}/status", headers={"Authorization": seed.lead_key}, timeout=10
    )
    return dict(r.json())


def wait_for(pred: Any, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def integration(relay: RelayHandle, seed: Seed, lead_id: str, name: str) -> dict[str, Any]:
    return dict(status(relay, seed, lead_id).get("Integrations", {}).get(name) or {})


def wait_status(
    relay: RelayHandle, seed: Seed, lead_id: str, name: str, want: str, timeout: float = 20.0
) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (lambda s: s if s.get("SyncStatus") == want else None)(
                integration(relay, seed, lead_id, name)
            ),
            timeout,
            what=f"{name} {want}",
        )
    )


def rlm_lead_by_uuid(lead_systems: LeadSystemsHandle, uuid_: str) -> dict[str, Any]:
    [found] = [x for x in lead_systems.state.rlm.snapshot() if x["lead_uuid"] == uuid_]
    return found


def dhq_inquiries(lead_systems: LeadSystemsHandle, lead_id: str) -> list[dict[str, Any]]:
    return [i for i in lead_systems.state.dhq.snapshot() if i["external_id"] == lead_id]


def text(sim: Any, frm: str, to: str, body: str) -> None:
    httpx.post(sim.url + "/_sim/inbound", json={"from": frm, "to": to, "body": body}, timeout=10)

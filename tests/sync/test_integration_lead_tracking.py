"""The desktop engine and the relay's lead-tracking connectors (the lead-systems
simulator): each integration's state reaches the local store through the change
feed, and "Sync now" asks the relay to run them again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.relay.connectors.directory_settings import set_retailer_settings
from app.sandbox.lead_systems_sim import LeadSystemsHandle, start_lead_systems_sim
from app.sandbox.twilio_sim import SimHandle
from app.sync.api import EngineError, SyncState
from tests.relay.connector_helpers import connector_settings
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay, tables_for
from tests.support.twilio_sim import running_simulator
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.integration import create_lead

POOL = ["+13125550161", "+13125550162", "+14155550163"]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def systems() -> Iterator[LeadSystemsHandle]:
    handle = start_lead_systems_sim(hang_s=5.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def live(
    dynamodb_endpoint: str, sim: SimHandle, systems: LeadSystemsHandle
) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(
        dynamodb_endpoint,
        sim,
        stuck_after_s=1.0,
        connectors=connector_settings(systems),
        stream_heartbeat_s=0.5,
        stream_poll_s=0.05,
    )
    seed = seed_dealer(relay, web2text_number="+13125550160", pool=POOL)
    set_retailer_settings(tables_for(relay), seed.retailer_id, rlm_api_key="desk-key")
    yield relay, seed
    relay.stop()


async def _integrations(engine: object, lead_id: str) -> dict[str, str]:
    detail = await engine.get_lead(lead_id)  # type: ignore[attr-defined]
    return {i.name: i.status for i in detail.integrations} if detail else {}


async def test_integrations_reach_the_desktop_and_sync_now_runs_them_again(
    live: tuple[RelayHandle, Seed], systems: LeadSystemsHandle, tmp_path: Path
) -> None:
    relay, seed = live
    systems.set_faults({"dhq": {"fail_next": 100, "fail_status": 400}})
    lead = create_lead(relay, seed, name="Desk Tracking")
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    try:
        with pytest.raises(EngineError) as offline:
            await engine.sync_lead(lead.lead_id)
        assert offline.value.reason == "offline"
        await engine.start()
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)
        for _ in range(400):
            shown = await _integrations(engine, lead.lead_id)
            if shown.get("RLM") == "SYNCED" and shown.get("DHQ") == "ERROR":
                break
            await asyncio.sleep(0.05)
        assert shown == {"Twilio": "SYNCED", "RLM": "SYNCED", "DHQ": "ERROR"}
        detail = await engine.get_lead(lead.lead_id)
        assert detail is not None
        dhq = detail.integrations[2]
        assert dhq.error == "Error with DHQ lead submit endpoint" and dhq.detail == "400"
        systems.set_faults({})
        await engine.sync_lead(lead.lead_id)  # "Sync now"
        for _ in range(400):
            if (await _integrations(engine, lead.lead_id)).get("DHQ") == "SYNCED":
                break
            await asyncio.sleep(0.05)
        assert (await _integrations(engine, lead.lead_id))["DHQ"] == "SYNCED"
        with pytest.raises(EngineError) as unknown:
            await engine.sync_lead("00000000-0000-4000-8000-000000000000")
        assert unknown.value.reason == "lead_not_found"
    finally:
        await engine.stop()

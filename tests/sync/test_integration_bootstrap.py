"""A desktop whose cursor is older than the relay's change-log retention, on the real relay
(DynamoDB Local, the Twilio simulator): it is told (410 `cursor_expired`), bootstraps
again, keeps its outbox and delivers every queued text exactly once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.relay.tables import CHANGE_LOG
from app.sandbox.twilio_sim import SimHandle
from app.sync.api import LeadFilter, OutboxItemFailed, SyncState
from app.sync.engine import SyncEngine
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator, wait_until
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.crash import queue_messages
from tests.sync.integration import create_lead, handset_bodies

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7101, 7106)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.5, stream_poll_s=0.05)
    try:
        seed = seed_dealer(relay, web2text_number="+13125550123", store_number="+13125550197",
                           pool=POOL)
        yield relay, seed
    finally:
        relay.stop()


def _expire_all(relay: RelayHandle, location_id: str) -> None:
    """Every change-log item of the location as if the retention had run out (a month
    without this desktop; TTL has not deleted them yet)."""
    client, table = relay.tables.client, relay.tables.name(CHANGE_LOG)
    pages = client.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="LocationId = :loc",
        ExpressionAttributeValues={":loc": {"S": location_id}}, ProjectionExpression="Seq")
    for page in pages:
        for item in page["Items"]:
            client.update_item(
                TableName=table, Key={"LocationId": {"S": location_id}, "Seq": item["Seq"]},
                UpdateExpression="SET ExpiresAt = :past",
                ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}})


async def _lead_ids(engine: SyncEngine) -> set[str]:
    return {row.lead_id for row in await engine.list_leads(LeadFilter(), limit=1000)}


async def test_an_expired_cursor_bootstraps_again_and_keeps_the_outbox(
    live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    relay, seed = live
    first = create_lead(relay, seed, name="Before Gap")
    data_dir = tmp_path / "desk"
    engine = fast_engine(data_dir, relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=30)
        await rec.wait_for(lambda: engine.caught_up, timeout=30)
        cursor = engine.status().cursor
    finally:
        await engine.stop()
    assert cursor
    # while the desktop is off: a lead arrives, the desktop's position runs out of
    # retention, and texts are queued on the desktop
    second = create_lead(relay, seed, name="During Gap")
    _expire_all(relay, seed.location_id)
    plan = [(first.conversation_sid, f"gap {i}") for i in range(4)]
    queue_messages(data_dir, plan)

    caplog.set_level(logging.WARNING, logger="app.sync.follow")
    engine = fast_engine(data_dir, relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        assert await engine.wait_idle(90)
        # told once: the snapshot's cursor (at a head whose item expired) holds
        assert sum("bootstrapping" in r.getMessage() for r in caplog.records) == 1
        assert engine.status().cursor and engine.status().cursor != cursor
        assert {first.lead_id, second.lead_id} <= await _lead_ids(engine)
        await asyncio.to_thread(
            wait_until, lambda: len([b for b in handset_bodies(sim, first.customer)
                                     if b.startswith("gap")]) >= 4, 20)
        sim.wait_idle(20)
        got = [b for b in handset_bodies(sim, first.customer) if b.startswith("gap")]
        assert got == [body for _, body in plan]  # each once, in order
        assert rec.of(OutboxItemFailed) == []
    finally:
        await engine.stop()

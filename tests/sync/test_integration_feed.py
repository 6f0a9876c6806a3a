"""The engine against the real relay (uvicorn) on DynamoDB Local: /v1/me, catch-up
through /v1/changes, /v1/stream with resume, duplicate and out-of-order changes.

Changes are written with the relay's own change log (what its webhook and lead
handlers call), so this covers the feed end to end without depending on Twilio.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.sync.api import ChangesApplied, InboundMessages, LeadFilter, SyncState
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.fake_relay import conv_data, lead_data, msg_data

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str) -> Iterator[tuple[RelayHandle, Seed]]:
    handle = start_relay(
        dynamodb_endpoint, background=False, stream_heartbeat_s=0.3, stream_poll_s=0.05,
        snapshot_bootstrap=False,  # changes are written to the log only: replay it
    )
    seed = seed_dealer(handle, web2text_number="+13125550144")
    yield handle, seed
    handle.stop()


def record(handle: RelayHandle, seed: Seed, entity: str, data: dict[str, Any]) -> None:
    ident = {"lead": "leadId", "conversation": "conversationSid", "message": "messageSid"}[entity]
    data = {**data, "locationId": seed.location_id, "retailerId": seed.retailer_id}
    handle.ctx.change_log.record(seed.location_id, entity, data[ident], data["version"], data)


async def test_catch_up_stream_duplicates_and_reordering(
        relay: tuple[RelayHandle, Seed], tmp_path: Path) -> None:
    handle, seed = relay
    for i in range(12):
        record(handle, seed, "conversation", conv_data(f"CHi{i}", unread=1))
        record(handle, seed, "lead", lead_data(f"lead-i{i}", f"CHi{i}", name=f"Buyer {i}"))
    engine = fast_engine(tmp_path / "desk", handle.url, seed.staff_key, batch_size=5)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)
        assert engine.me is not None and engine.me.staff_id == seed.staff_id
        assert engine.me.location_ids == (seed.location_id,)
        assert await engine.count_leads(LeadFilter()) == 12
        assert len([e for e in rec.of(ChangesApplied) if e.initial_catch_up]) >= 5
        [loc] = await engine.list_locations()
        assert loc.location_id == seed.location_id and loc.unread == 12

        # live: newer version, then a duplicate and an older version (reordered webhooks)
        record(handle, seed, "lead", lead_data("lead-i3", "CHi3", version=3, pipeline="engaged"))
        record(handle, seed, "lead", lead_data("lead-i3", "CHi3", version=3, pipeline="engaged"))
        record(handle, seed, "lead", lead_data("lead-i3", "CHi3", version=2, pipeline="contacted"))
        record(handle, seed, "message", msg_data("IMi1", "CHi3", "ok", status="delivered",
                                                 version=2))
        record(handle, seed, "message", msg_data("IMi1", "CHi3", "ok", status="sent", version=1))
        record(handle, seed, "message", msg_data("IMi1", "CHi3", "ok", status="delivered",
                                                 version=2))
        await rec.wait_for(lambda: any(
            m.message_sid == "IMi1" for e in rec.of(InboundMessages) for m in e.messages))
        lead = await engine.get_lead("lead-i3")
        assert lead is not None and (lead.pipeline_status, lead.version) == ("engaged", 3)
        thread = await engine.thread("CHi3")
        assert [(m.message_sid, m.status) for m in thread] == [("IMi1", "delivered")]
        assert sum(len(e.messages) for e in rec.of(InboundMessages)
                   if not e.during_catch_up) == 1
        cursor = engine.status().cursor
        assert cursor
    finally:
        await engine.stop()

    # offline for a while; changes pile up; a restart resumes from the stored cursor
    for i in range(7):
        record(handle, seed, "message", msg_data(f"IMo{i}", "CHi5", f"while away {i}", at=i))
    again = fast_engine(tmp_path / "desk", handle.url, seed.staff_key, batch_size=3)
    rec2 = Recorder()
    again.add_listener(rec2)
    await again.start()
    try:
        await rec2.wait_for(lambda: again.status().state is SyncState.ONLINE, timeout=20)
        inbound = [m for e in rec2.of(InboundMessages) for m in e.messages]
        assert [m.body for m in inbound] == [f"while away {i}" for i in range(7)]
        assert all(e.during_catch_up for e in rec2.of(InboundMessages))
        # nothing from before the cursor was re-announced
        assert not any(e.lead_ids for e in rec2.of(ChangesApplied) if e.initial_catch_up)
    finally:
        await again.stop()


async def test_revoked_key_is_auth_required(relay: tuple[RelayHandle, Seed],
                                            tmp_path: Path) -> None:
    handle, _ = relay
    engine = fast_engine(tmp_path / "bad", handle.url, "not-a-key")
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.AUTH_REQUIRED, timeout=10)
    finally:
        await engine.stop()


async def test_a_non_staff_key_is_auth_required(relay: tuple[RelayHandle, Seed],
                                               tmp_path: Path) -> None:
    handle, seed = relay
    engine = fast_engine(tmp_path / "lead-key", handle.url, seed.lead_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.AUTH_REQUIRED, timeout=10)
    finally:
        await engine.stop()

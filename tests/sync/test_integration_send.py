"""The engine and `web2text-sync` against the real relay on DynamoDB Local with the
Twilio simulator: sends reach the customer's handset exactly once and in order
(also across SIGKILLs), a relay outage drains afterwards, customer replies become
listener events, and a lead edited on two desktops at once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.sandbox.twilio_sim import SimHandle
from app.sync.api import InboundMessages, LeadFilter, OutboxItemFailed, SyncState
from tests.support.relay import RelayHandle, Seed, issue_staff_key, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator, wait_until
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.crash import accepted_count, drill, queue_messages
from tests.sync.integration import (
    TcpProxy,
    create_lead,
    handset_bodies,
)

pytestmark = pytest.mark.dynamodb

STORE_PHONE = "+13125550198"
#: every conversation binds the store's phone to one pool number: room for many leads
POOL = [f"+1312555{n:04d}" for n in range(7001, 7016)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.5, stream_poll_s=0.05)
    sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
    seed = seed_dealer(relay, web2text_number="+13125550122", store_number=STORE_PHONE,
                       pool=POOL)
    yield relay, seed
    relay.stop()


def ours(sim: SimHandle, phone: str, prefix: str) -> list[str]:
    return [b for b in handset_bodies(sim, phone) if b.startswith(prefix)]


async def test_engine_send_and_customer_reply_round_trip(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Robin Roundtrip")
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)
        detail = await _lead_with_conversation(engine, lead.lead_id)
        assert detail is not None and detail.name == "Robin Roundtrip"
        assert detail.conversation_sid == lead.conversation_sid
        msg = await engine.send_message(lead.conversation_sid, "rt: Yes, 12 boxes in stock")
        assert msg.status == "pending"
        assert await engine.wait_idle(30)
        await asyncio.to_thread(wait_until, lambda: ours(sim, lead.customer, "rt:"), 10)
        assert ours(sim, lead.customer, "rt:") == ["rt: Yes, 12 boxes in stock"]
        # and to the store's own phone (the location's Web2Text number)
        await asyncio.to_thread(wait_until, lambda: ours(sim, seed.web2text_number, "rt:"), 10)
        assert ours(sim, seed.web2text_number, "rt:") == ["rt: Yes, 12 boxes in stock"]
        # the relay's copy replaces the pending row (matched by idempotency key)
        for _ in range(100):
            thread = [m for m in await engine.thread(lead.conversation_sid)
                      if m.body.startswith("rt:")]
            if thread and thread[0].message_sid:
                break
            await asyncio.sleep(0.05)
        assert len(thread) == 1 and thread[0].message_sid and thread[0].local_id == msg.local_id
        # the customer texts back through their proxy number
        proxy = sim.handset(lead.customer)[-1]["from"]
        r = httpx.post(f"{sim.url}/_sim/inbound",
                       json={"from": lead.customer, "to": proxy, "body": "Great, see you at 3"})
        assert r.status_code < 300, r.text
        await rec.wait_for(lambda: any(m.body == "Great, see you at 3"
                                       for e in rec.of(InboundMessages) for m in e.messages),
                           timeout=20)
        inbound = next(m for e in rec.of(InboundMessages) for m in e.messages
                       if m.body == "Great, see you at 3")
        assert inbound.lead_id == lead.lead_id and inbound.customer_name == "Robin Roundtrip"
        for _ in range(200):  # the conversation's unread count is its own change
            rows = await engine.list_leads(LeadFilter(unread_only=True))
            if lead.lead_id in {r.lead_id for r in rows}:
                break
            await asyncio.sleep(0.05)
        assert lead.lead_id in {r.lead_id for r in rows}
        await engine.mark_read(lead.conversation_sid)
        assert await engine.wait_idle(20)
    finally:
        await engine.stop()


async def test_relay_unreachable_for_a_while_then_drains(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed)
    link = TcpProxy(relay.server.port)  # the desktop's network path to the relay
    engine = fast_engine(tmp_path / "desk", link.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)
        link.cut()
        await rec.wait_for(lambda: engine.status().state is SyncState.OFFLINE, timeout=20)
        for i in range(5):
            await engine.send_message(lead.conversation_sid, f"outage {i}")
        await asyncio.sleep(1.5)  # the engine keeps running and retrying meanwhile
        assert engine.status().pending == 5 and engine.status().state is not SyncState.ONLINE
        assert ours(sim, lead.customer, "outage") == []
        link.restore()
        assert await engine.wait_idle(60)
        await asyncio.to_thread(wait_until, lambda: len(ours(sim, lead.customer, "outage")) == 5,
                                15)
        assert ours(sim, lead.customer, "outage") == [f"outage {i}" for i in range(5)]
        assert rec.of(OutboxItemFailed) == []
    finally:
        await engine.stop()
        link.close()


def _crash_drill(live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path,
                 messages: int, kills: int, seed_: int) -> None:
    relay, seed = live
    lead = create_lead(relay, seed)
    prefix = f"crash{seed_}"  # the store's phone receives every drill's messages
    plan = [(lead.conversation_sid, f"{prefix} {i:03d}") for i in range(messages)]
    data_dir = tmp_path / "desk"
    queue_messages(data_dir, plan)
    result = drill(data_dir, relay.url, seed.staff_key, kills,
                   accepted_count(data_dir, messages), seed=seed_,
                   min_s=0.5, max_s=10.0, jitter_s=0.5, final_timeout=300)
    assert result.final_code == 0, result.final_status
    sim.wait_idle(20)
    # every message on the customer's handset (and the store's phone) once, in order
    assert ours(sim, lead.customer, prefix) == [body for _, body in plan]
    assert ours(sim, seed.web2text_number, prefix) == [body for _, body in plan]
    assert result.killed_mid_delivery >= min(3, kills // 3), result


def test_sigkilled_processes_deliver_each_message_once_in_order(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    """Bounded CI drill: 30 messages, 15 SIGKILLs."""
    _crash_drill(live, sim, tmp_path, messages=30, kills=15, seed_=3)


@pytest.mark.slow
def test_sigkill_drill_long(live: tuple[RelayHandle, Seed], sim: SimHandle,
                            tmp_path: Path) -> None:
    _crash_drill(live, sim, tmp_path,
                 messages=int(os.environ.get("W2T_CRASH_MESSAGES", 120)),
                 kills=int(os.environ.get("W2T_CRASH_KILLS", 60)), seed_=17)


async def test_lead_edited_on_two_desktops_at_once(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Dana Twodesks")
    kim_key = issue_staff_key(relay, seed.retailer_id, [seed.location_id], staff_id="kim",
                              name="Kim")
    a = fast_engine(tmp_path / "a", relay.url, seed.staff_key)
    b = fast_engine(tmp_path / "b", relay.url, kim_key)
    rec_a, rec_b = Recorder(), Recorder()
    a.add_listener(rec_a)
    b.add_listener(rec_b)
    await a.start()
    await b.start()
    try:
        for engine in (a, b):
            await _lead_with_conversation(engine, lead.lead_id)
        base = await a.get_lead(lead.lead_id)
        assert base is not None
        # both from the same version: different fields → both survive
        await asyncio.gather(a.update_lead(lead.lead_id, status="appointment"),
                             b.update_lead(lead.lead_id, assignee_id="kim", note="Kim takes it"))
        assert await a.wait_idle(30) and await b.wait_idle(30)
        await _until_same(a, b, lead.lead_id)
        for engine in (a, b):
            d = await engine.get_lead(lead.lead_id)
            assert d is not None
            assert (d.pipeline_status, d.assignee_id) == ("appointment", "kim")
            assert "Kim takes it" in [n.body for n in d.notes]
        assert rec_a.of(OutboxItemFailed) == [] and rec_b.of(OutboxItemFailed) == []

        # the same field to different values at once: one wins, the other is told
        await asyncio.gather(a.update_lead(lead.lead_id, status="won"),
                             b.update_lead(lead.lead_id, status="lost"))
        await a.wait_idle(30)
        await b.wait_idle(30)
        failures = rec_a.of(OutboxItemFailed) + rec_b.of(OutboxItemFailed)
        assert [f.reason for f in failures] == ["version_conflict"]
        await _until_same(a, b, lead.lead_id)
        da, db_ = await a.get_lead(lead.lead_id), await b.get_lead(lead.lead_id)
        assert da is not None and db_ is not None
        assert da.pipeline_status == db_.pipeline_status in ("won", "lost")
        loser = a if rec_a.of(OutboxItemFailed) else b
        winner_value = da.pipeline_status
        assert (await loser.get_lead(lead.lead_id)).pipeline_status == winner_value  # type: ignore[union-attr]
    finally:
        await a.stop()
        await b.stop()


async def _until_same(a: object, b: object, lead_id: str) -> None:
    for _ in range(200):
        da = await a.get_lead(lead_id)  # type: ignore[attr-defined]
        db_ = await b.get_lead(lead_id)  # type: ignore[attr-defined]
        if da and db_ and da.version == db_.version and not da.pending_update \
                and not db_.pending_update:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the two desktops never converged")


async def _lead_with_conversation(engine: object, lead_id: str) -> object:
    """The lead as mirrored once the relay has linked its conversation."""
    for _ in range(300):
        detail = await engine.get_lead(lead_id)  # type: ignore[attr-defined]
        if detail is not None and detail.conversation_sid:
            return detail
        await asyncio.sleep(0.05)
    raise AssertionError("the lead never arrived with its conversation")

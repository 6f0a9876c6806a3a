"""The engine's staff actions against the real relay on DynamoDB Local with the
Twilio simulator: a conversation started offline is shown at once and reaches the
relay exactly once; an opt-out recorded by staff turns texting off at once and
closes the leads; a close with a reason; the colleague list; a stored "not an
opt-out"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.sandbox.twilio_sim import SimHandle
from app.sync.api import LeadFilter, NewConversation, OutboxItemFailed, SyncState
from app.sync.engine import SyncEngine
from tests.relay_desk.helpers import changes, chicago_day_clock, day_zone, new_phone
from tests.support.relay import RelayHandle, Seed, issue_staff_key, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator, wait_until
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.integration import TcpProxy, create_lead, handset_bodies

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7101, 7116)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.5, stream_poll_s=0.05,
                        schedule_interval_s=0.2)
    sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
    # day in the store's zone: the first staff text of a new conversation may go
    seed = seed_dealer(relay, web2text_number="+13125550123", store_number="+13125550197",
                       pool=POOL, timezone=day_zone())
    relay.ctx.clock = chicago_day_clock()  # texting hours for 312 customers
    yield relay, seed
    relay.stop()


async def _online(engine: SyncEngine, rec: Recorder) -> None:
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)


async def _until(pred: object, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await pred():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_new_conversation_offline_is_pending_then_delivered_once(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    link = TcpProxy(relay.server.port)
    engine = fast_engine(tmp_path / "desk", link.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await _online(engine, rec)
        link.cut()
        phone = new_phone()
        new = NewConversation(seed.location_id, "Noor Haddad", phone[2:], "Walk-in, oak")
        lead_id = await engine.create_lead(new)
        rows = await engine.list_leads(LeadFilter())
        shown = next(r for r in rows if r.lead_id == lead_id)  # at once, before any answer
        assert shown.phone == phone and shown.name == "Noor Haddad"
        detail = await engine.get_lead(lead_id)
        assert detail is not None and detail.pending_update and detail.version == 0
        assert [n.body for n in detail.notes] == ["Walk-in, oak"]
        await engine.stop()  # closed offline, opened again: still queued
        engine = fast_engine(tmp_path / "desk", link.url, seed.staff_key)
        engine.add_listener(rec)
        await engine.start()
        link.restore()
        assert await engine.wait_idle(30)

        async def synced() -> bool:
            d = await engine.get_lead(lead_id)
            return d is not None and d.conversation_sid is not None

        await _until(synced)
        detail = await engine.get_lead(lead_id)
        assert detail is not None and not detail.pending_update and detail.version >= 1
        ours = [c for c in changes(relay, seed.staff_key, "lead")
                if c["data"]["customer"]["phone"] == phone]
        assert {c["data"]["leadId"] for c in ours} == {lead_id}  # one lead, the one shown
        assert [r.lead_id for r in await engine.list_leads(LeadFilter())].count(lead_id) == 1
        sim.wait_idle()
        assert handset_bodies(sim, phone) == []  # no greeting: staff texts first
        await engine.send_message(str(detail.conversation_sid), "Hi Noor, it's Sam.")
        assert await engine.wait_idle(30)
        await asyncio.to_thread(wait_until, lambda: handset_bodies(sim, phone), 10)
        assert handset_bodies(sim, phone) == ["Hi Noor, it's Sam."]
    finally:
        await engine.stop()
        link.close()


async def test_refused_new_conversation_reports_and_discards(
        live: tuple[RelayHandle, Seed], tmp_path: Path) -> None:
    relay, seed = live
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await _online(engine, rec)
        lead_id = await engine.create_lead(
            NewConversation(seed.location_id, "Shop Line", "+1 312 555 0197"))  # the store
        await rec.wait_for(lambda: bool(rec.of(OutboxItemFailed)), timeout=20)
        failed = rec.of(OutboxItemFailed)[-1]
        assert failed.kind == "create_lead" and failed.lead_id == lead_id
        await engine.discard(failed.outbox_id)
        assert await engine.get_lead(lead_id) is None
    finally:
        await engine.stop()


async def test_opt_out_recorded_by_staff(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Olu Optout")
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await _online(engine, rec)

        async def mirrored() -> bool:
            return await engine.get_lead(lead.lead_id) is not None

        await _until(mirrored)
        greeted = len(handset_bodies(sim, lead.customer))
        await engine.opt_out(lead.conversation_sid, "Asked us by phone")
        detail = await engine.get_lead(lead.lead_id)
        assert detail is not None and detail.opted_out  # at once, before the relay answers
        assert await engine.wait_idle(30)

        async def closed() -> bool:
            d = await engine.get_lead(lead.lead_id)
            return d is not None and d.status == "CLOSED" and d.opted_out

        await _until(closed)
        sim.wait_idle()
        assert len(handset_bodies(sim, lead.customer)) == greeted  # nothing texted to them
        await engine.send_message(lead.conversation_sid, "one more offer")
        await rec.wait_for(
            lambda: any(e.kind == "send_message" for e in rec.of(OutboxItemFailed)), timeout=20)
        refusal = next(e for e in rec.of(OutboxItemFailed) if e.kind == "send_message")
        assert refusal.reason in ("recipient_opted_out", "conversation_closed")
    finally:
        await engine.stop()


async def test_close_with_reason_staff_list_and_stored_dismiss(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    issue_staff_key(relay, seed.retailer_id, [seed.location_id], staff_id="kim",
                    name="Kim Ko")
    lead = create_lead(relay, seed, name="Cleo Close")
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await _online(engine, rec)
        staff = await engine.list_staff()
        assert {(m.staff_id, m.name) for m in staff} >= {("kim", "Kim Ko"),
                                                         (seed.staff_id, "Sam Staff")}
        # a possible opt-out, dismissed here: stored on the relay for every desktop
        proxy = sim.handset(lead.customer)[-1]["from"]
        r = httpx.post(f"{sim.url}/_sim/inbound", json={
            "from": lead.customer, "to": proxy, "body": "please stop texting me"})
        assert r.status_code < 300, r.text

        async def flagged() -> bool:
            d = await engine.get_lead(lead.lead_id)
            return d is not None and d.possible_opt_out

        await _until(flagged)
        await engine.dismiss_possible_opt_out(lead.lead_id)
        detail = await engine.get_lead(lead.lead_id)
        assert detail is not None and not detail.possible_opt_out
        assert await engine.wait_idle(30)
        relay_view = [c["data"] for c in changes(relay, seed.staff_key, "lead")
                      if c["data"]["leadId"] == lead.lead_id][-1]
        assert relay_view["possibleOptOut"] is False
        # close with a reason, against whatever version the relay has reached
        await engine.close_lead(lead.lead_id, "Bought elsewhere")
        assert (await engine.get_lead(lead.lead_id)).status == "CLOSED"  # type: ignore[union-attr]
        assert await engine.wait_idle(30)

        async def closed() -> bool:
            d = await engine.get_lead(lead.lead_id)
            return d is not None and d.close_reason == "Bought elsewhere"

        await _until(closed)
    finally:
        await engine.stop()


async def test_text_for_later_shows_scheduled_then_goes_once(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Lena Later")
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await _online(engine, rec)

        async def thread_of(body: str) -> list[object]:
            return [m for m in await engine.thread(lead.conversation_sid) if m.body == body]

        later = datetime.now(UTC) + timedelta(hours=2)
        kept = await engine.send_message(lead.conversation_sid, "lt: tomorrow", send_at=later)
        assert kept.status == "pending"
        soon = datetime.now(UTC) + timedelta(seconds=3)
        await engine.send_message(lead.conversation_sid, "lt: soon", send_at=soon)

        async def scheduled() -> bool:
            rows = await thread_of("lt: tomorrow")
            return len(rows) == 1 and rows[0].status == "scheduled"  # type: ignore[attr-defined]

        await _until(scheduled)
        row = (await thread_of("lt: tomorrow"))[0]
        assert row.message_sid.startswith("W2TS")  # type: ignore[attr-defined]
        assert abs((row.created_at - later).total_seconds()) < 1  # type: ignore[attr-defined]
        await engine.cancel_scheduled(row.message_sid)  # type: ignore[attr-defined]
        assert await thread_of("lt: tomorrow") == []  # at once
        assert await engine.wait_idle(30)

        async def sent_once() -> bool:
            rows = await thread_of("lt: soon")
            return len(rows) == 1 and not rows[0].message_sid.startswith("W2TS")  # type: ignore[attr-defined]

        await _until(sent_once, timeout=30)
        await asyncio.to_thread(
            wait_until, lambda: "lt: soon" in handset_bodies(sim, lead.customer), 10)
        sim.wait_idle()
        bodies = handset_bodies(sim, lead.customer)
        assert bodies.count("lt: soon") == 1 and "lt: tomorrow" not in bodies
        assert await thread_of("lt: tomorrow") == []  # the cancel held
    finally:
        await engine.stop()

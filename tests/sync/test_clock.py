"""A PC clock a day off changes nothing the user sees but the offset: the engine learns
the relay's time from its `Date` headers, stamps what it queues with it, remembers it
for starts without the relay, and a clock set back never strands a queued row."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from app.sync import store
from app.sync.api import SyncState
from app.sync.clock import RelayClock
from app.sync.db import Database
from tests.sync.fake_relay import change, conv_data, lead_data, msg_data

DAY = 86_400.0
FEED_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # the fake relay's `at` origin


def test_the_offset_comes_from_the_date_header() -> None:
    pc = [1_000_000.0]
    clock = RelayClock(lambda: pc[0])
    relay_now = pc[0] + DAY
    changed = []
    clock.on_change = changed.append
    assert clock.observe(formatdate(relay_now, usegmt=True), pc[0] - 0.1, pc[0] + 0.1)
    assert abs(clock.offset - DAY) <= 1.0 and changed == [clock.offset]
    assert abs(clock.now() - relay_now) <= 1.0
    # the header's own rounding is not a change
    assert not clock.observe(formatdate(relay_now + 1, usegmt=True), pc[0] + 0.5, pc[0] + 0.6)
    # nor are answers without a usable header
    assert not clock.observe(None, pc[0], pc[0]) and not clock.observe("garbage", pc[0], pc[0])
    # a clock corrected meanwhile is
    pc[0] = relay_now + 5
    assert clock.observe(formatdate(relay_now + 5, usegmt=True), pc[0], pc[0])
    assert abs(clock.offset) <= 1.0


def test_a_clock_set_back_does_not_strand_a_waiting_row(db: Database) -> None:
    msg = db.writer.call(store.enqueue_send, "CH1", "waiting", None)
    assert msg.outbox_id is not None
    # its retry was scheduled by a clock a day ahead, since set right
    db.writer.call(store.mark_retry, msg.outbox_id, DAY, "relay down")
    heads, _ = db.reader.call(store.due_heads, [])
    assert [r.outbox_id for r in heads] == [msg.outbox_id]
    db.writer.call(store.mark_retry, msg.outbox_id, 30, "relay down")  # an ordinary wait
    heads, next_at = db.reader.call(store.due_heads, [])
    assert heads == [] and next_at is not None


@pytest.mark.parametrize("skew", [-DAY, DAY], ids=["pc-a-day-behind", "pc-a-day-ahead"])
async def test_a_skewed_pc_clock_orders_and_stamps_by_the_relays_time(
        skew: float, fake_relay: Any, engine_factory: Callable[..., Any],
        tmp_path: Path) -> None:
    relay, url = fake_relay
    a_minute_ago = time.time() - FEED_EPOCH - 60
    relay.publish(change("conversation", conv_data("CH1", at=a_minute_ago)),
                  change("lead", lead_data("l1", "CH1", at=a_minute_ago)),
                  change("message", msg_data("IM1", "CH1", "are you open?", at=a_minute_ago)))

    def pc_clock() -> float:
        return time.time() + skew

    engine, rec = await engine_factory(url, "desk", local_clock=pc_clock)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    assert abs(engine.status().clock_offset + skew) <= 2.0
    sent = await engine.send_message("CH1", "yes, until 6")
    assert abs(sent.created_at.timestamp() - time.time()) <= 5.0
    assert [m.body for m in await engine.thread("CH1")] == ["are you open?", "yes, until 6"]
    assert await engine.wait_idle(20)
    assert relay.sent == [("CH1", "yes, until 6")]
    await engine.stop()

    # without the relay, the offset it last gave stamps what is queued
    offline, _ = await engine_factory(None, "desk", local_clock=pc_clock)
    assert abs(offline.status().clock_offset + skew) <= 2.0
    later = await offline.send_message("CH1", "see you then")
    assert abs(later.created_at.timestamp() - time.time()) <= 5.0
    assert [m.body for m in await offline.thread("CH1")][-1] == "see you then"

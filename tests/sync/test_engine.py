"""SyncEngine against a fake relay port served over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from app.sync.api import (
    ChangesApplied,
    InboundMessages,
    LeadFilter,
    OutboxItemDelivered,
    OutboxItemFailed,
    StatusChanged,
    SyncState,
)
from app.sync.retry import Backoff
from tests.sync.fake_relay import FakeRelay, change, conv_data, lead_data, msg_data


def seed(relay: FakeRelay, n_leads: int = 1) -> None:
    for i in range(n_leads):
        relay.publish(change("conversation", conv_data(f"CH{i}", unread=1)),
                      change("lead", lead_data(f"lead{i}", f"CH{i}", name=f"Customer {i}")),
                      change("message", msg_data(f"IMc{i}", f"CH{i}", "hello?")))


async def test_catch_up_in_batches_then_live_stream(fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay, 7)  # 21 changes, batch size 5: five catch-up transactions
    engine, rec = await engine_factory(url, batch_size=5)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    assert engine.status().cursor == "21"
    catch_up = rec.of(ChangesApplied)
    assert all(e.initial_catch_up for e in catch_up)
    assert len([e for e in catch_up if e.lead_ids or e.message_sids]) >= 5
    assert rec.of(InboundMessages)[0].during_catch_up
    assert await engine.count_leads(LeadFilter()) == 7
    assert engine.me is not None and engine.me.name == "Sam Staff"
    [loc] = await engine.list_locations()
    assert loc.name == "Downtown" and loc.unread == 7

    # live: a new customer message arrives through the stream
    relay.publish(change("message", msg_data("IMlive", "CH3", "Still open today?", at=99)))
    await rec.wait_for(lambda: any(
        not e.during_catch_up and e.messages[0].message_sid == "IMlive"
        for e in rec.of(InboundMessages)))
    live = next(e for e in rec.of(InboundMessages) if not e.during_catch_up)
    assert live.messages[0].lead_id == "lead3" and live.messages[0].customer_name == "Customer 3"
    assert any("IMlive" in e.message_sids and not e.initial_catch_up
               and e.thread_sids == {"CH3"} for e in rec.of(ChangesApplied))


async def test_send_shows_pending_at_once_and_is_delivered_once_in_order(
        fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay, 2)
    engine, rec = await engine_factory(url)
    sent = []
    for i in range(6):
        sent.append(await engine.send_message("CH0", f"a{i}"))
        sent.append(await engine.send_message("CH1", f"b{i}"))
    assert all(m.status == "pending" for m in sent)
    shown = {m.local_id for m in await engine.thread("CH0")}
    assert {m.local_id for m in sent if m.conversation_sid == "CH0"} <= shown
    assert await engine.wait_idle(10)
    assert [b for c, b in relay.sent if c == "CH0"] == [f"a{i}" for i in range(6)]
    assert [b for c, b in relay.sent if c == "CH1"] == [f"b{i}" for i in range(6)]
    assert len(rec.of(OutboxItemDelivered)) == 12
    # the relay's copies come back through the feed and merge with the pending rows
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        thread = await engine.thread("CH0")
        if all(m.message_sid for m in thread):
            break
        await asyncio.sleep(0.05)
    assert [m.body for m in thread] == ["hello?"] + [f"a{i}" for i in range(6)]
    assert all(m.message_sid and m.status == "queued" for m in thread[1:])
    assert engine.status().pending == 0


async def test_transient_errors_retry_with_backoff_and_honour_retry_after(
        fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    relay.fail_next(503, "unavailable")
    relay.fail_next(500, "internal")
    relay.fail_next(429, "rate_limited", headers={"Retry-After": "1"})
    engine, rec = await engine_factory(url)
    t0 = time.monotonic()
    await engine.send_message("CH0", "eventually")
    assert await engine.wait_idle(10)
    assert time.monotonic() - t0 >= 1.0  # the Retry-After second was waited out
    assert relay.sent == [("CH0", "eventually")]
    assert rec.of(OutboxItemFailed) == []


async def test_final_error_keeps_reason_and_retry_sends_once(
        fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    relay.fail_next(403, "recipient_opted_out")
    engine, rec = await engine_factory(url)
    msg = await engine.send_message("CH0", "are you there?")
    await rec.wait_for(lambda: bool(rec.of(OutboxItemFailed)))
    [failed] = rec.of(OutboxItemFailed)
    assert (failed.reason, failed.local_message_id) == ("recipient_opted_out", msg.local_id)
    await rec.wait_for(lambda: engine.status().failed == 1)
    [shown] = [m for m in await engine.thread("CH0") if m.local_id == msg.local_id]
    assert (shown.status, shown.error_reason, shown.outbox_id) == (
        "failed_local", "recipient_opted_out", failed.outbox_id)
    assert relay.sent == []
    await engine.retry(failed.outbox_id)
    assert await engine.wait_idle(10)
    assert relay.sent == [("CH0", "are you there?")]
    assert engine.status().failed == 0


async def test_discard_removes_a_failed_message(fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    relay.fail_next(422, "quiet_hours", nextAllowedAt="2026-01-01T14:00:00Z")
    engine, rec = await engine_factory(url)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    await engine.send_message("CH0", "late night text")
    await rec.wait_for(lambda: bool(rec.of(OutboxItemFailed)))
    assert rec.of(OutboxItemFailed)[0].reason == "quiet_hours"
    await engine.discard(rec.of(OutboxItemFailed)[0].outbox_id)
    assert [m.body for m in await engine.thread("CH0")] == ["hello?"]
    await rec.wait_for(lambda: engine.status().failed == 0 and engine.status().pending == 0)


async def test_relay_down_then_back_drains_the_queue(fake_relay: Any,
                                                     engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    engine, rec = await engine_factory(url)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    relay.down = True
    await rec.wait_for(lambda: engine.status().state is SyncState.OFFLINE)
    for i in range(5):
        await engine.send_message("CH0", f"offline {i}")
    await asyncio.sleep(0.8)  # several failed attempts meanwhile
    assert relay.sent == [] and engine.status().pending == 5
    # long backoff timers from now on (minutes): reconnecting must cut them short,
    # so the queue drains within wait_idle's bound, far below one backoff
    engine.backoff = Backoff(base=300.0, cap=600.0, rng=random.Random(3))
    await asyncio.sleep(0.5)
    relay.down = False
    assert await engine.wait_idle(60)
    assert [b for _, b in relay.sent] == [f"offline {i}" for i in range(5)]
    assert engine.status().state is SyncState.ONLINE
    assert any(isinstance(e, StatusChanged) and e.status.last_error for e in rec.events)


async def test_unknown_key_means_auth_required(fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    engine, rec = await engine_factory(url, token="wrong")
    await rec.wait_for(lambda: engine.status().state is SyncState.AUTH_REQUIRED)
    await engine.send_message("CH0", "kept for later")
    assert engine.status().pending >= 0 and relay.sent == []
    await engine.set_token("staff-key-1")
    assert await engine.wait_idle(10)
    assert relay.sent == [("CH0", "kept for later")]


async def test_lead_update_with_if_match_and_conflict_handling(
        fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    engine, rec = await engine_factory(url)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    detail = await engine.update_lead("lead0", status="contacted", note="left a voicemail")
    assert detail.pipeline_status == "contacted" and detail.pending_update
    assert await engine.wait_idle(10)
    assert relay.leads["lead0"]["pipelineStatus"] == "contacted"
    assert relay.leads["lead0"]["version"] == 2

    # another desktop assigns the lead (v3); ours, based on v2, changes only the status:
    # no overlap, so the 412 is re-based and applied
    relay.publish(change("lead", {**relay.leads["lead0"], "version": 3, "assigneeId": "S2"}))
    await _hold_stream_until(engine, "lead0", 2)
    await engine.update_lead("lead0", status="engaged")
    assert await engine.wait_idle(10)
    assert relay.leads["lead0"]["pipelineStatus"] == "engaged"
    assert relay.leads["lead0"]["assigneeId"] == "S2"
    assert rec.of(OutboxItemFailed) == []

    # the other desktop moves the status to won; ours (based on the old version) wants lost:
    # a real conflict, reported; the relay's value shows
    won = {**relay.leads["lead0"], "version": relay.leads["lead0"]["version"] + 1,
           "pipelineStatus": "won"}
    relay.leads["lead0"] = won  # written on the relay, not yet in our feed
    await engine.update_lead("lead0", status="lost")
    await rec.wait_for(lambda: bool(rec.of(OutboxItemFailed)))
    [conflict] = rec.of(OutboxItemFailed)
    assert conflict.reason == "version_conflict"
    shown = await engine.get_lead("lead0")
    assert shown is not None and shown.pipeline_status == "won"
    # the user insists: retry applies theirs on top of the current version
    await engine.retry(conflict.outbox_id)
    assert await engine.wait_idle(10)
    assert relay.leads["lead0"]["pipelineStatus"] == "lost"


async def _hold_stream_until(engine: Any, lead_id: str, version: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        d = await engine.get_lead(lead_id)
        if d is not None and d.version >= version:
            return
        await asyncio.sleep(0.02)


async def test_mark_read_reaches_the_relay(fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    engine, rec = await engine_factory(url)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    await engine.mark_read("CH0")
    assert (await engine.list_leads(LeadFilter()))[0].unread == 0
    assert await engine.wait_idle(10)
    assert relay.reads == ["CH0"]


async def test_in_flight_rows_are_requeued_on_start(tmp_path: Path, fake_relay: Any,
                                                    engine_factory: Any) -> None:
    relay, url = fake_relay
    offline, _ = await engine_factory(None, name="desk")
    await offline.send_message("CH0", "written before the crash")
    from app.sync import store
    [row] = await offline.db.reader.run(store.list_outbox)
    await offline.db.writer.run(store.mark_inflight, row.outbox_id)  # the crash point
    await offline.stop()
    engine, _ = await engine_factory(url, name="desk")
    assert await engine.wait_idle(10)
    assert relay.sent == [("CH0", "written before the crash")]


async def test_dead_stream_is_detected_by_heartbeat_timeout(tmp_path: Path,
                                                            engine_factory: Any) -> None:
    """A relay that answers the catch-up but then goes silent on the stream."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    streams = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            request = conn.recv(65536).decode()
            path = request.split(" ")[1]
            if path.startswith("/v1/stream"):
                streams.append(time.monotonic())
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n")
                continue  # never another byte: a dead connection
            body = (b'{"staffId":"S1","name":"Sam","retailerId":"R1","locations":[]}'
                    if path.startswith("/v1/me") else
                    b'{"changes":[],"cursor":"0","hasMore":false}')
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        _engine, rec = await engine_factory(f"http://127.0.0.1:{port}", heartbeat_timeout=0.5)
        await rec.wait_for(lambda: len(streams) >= 2, timeout=10)
        assert streams[1] - streams[0] >= 0.5
        assert any(isinstance(e, StatusChanged) and e.status.state is SyncState.OFFLINE
                   and "stream" in (e.status.last_error or "") for e in rec.events)
    finally:
        sock.close()


async def test_queries_and_applies_never_block_the_event_loop(
        fake_relay: Any, engine_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.sync import store

    threads: dict[str, set[str]] = {}
    for name in ("apply_changes", "search", "list_leads", "enqueue_send", "due_heads"):
        original = getattr(store, name)

        def spy(*args: Any, _name: str = name, _orig: Any = original) -> Any:
            threads.setdefault(_name, set()).add(threading.current_thread().name)
            return _orig(*args)

        monkeypatch.setattr(store, name, spy)
    relay, url = fake_relay
    relay.publish(*[change("message", msg_data(f"IMbig{i}", f"CH{i % 50}", f"body {i}" * 20))
                    for i in range(3000)])
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t - 0.005)

    tick = asyncio.create_task(ticker())
    engine, rec = await engine_factory(url, batch_size=1000)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=30)
    await engine.search("body 12", 50)
    await engine.list_leads(LeadFilter())
    await engine.send_message("CH1", "hello")
    stop.set()
    await tick
    # every piece of SQLite work ran on the store's worker threads, never on the loop's
    loop_thread = threading.current_thread().name
    assert set(threads) == {"apply_changes", "search", "list_leads", "enqueue_send",
                            "due_heads"}
    assert all(loop_thread not in names and all(n.startswith("w2t-db-") for n in names)
               for names in threads.values()), threads
    # and the loop kept ticking (loose: the build machine is shared and loaded)
    assert sorted(lags)[len(lags) // 2] < 0.05, max(lags)


async def test_key_still_in_progress_on_the_relay_is_retried_not_failed(
        fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    relay.fail_next(409, "idempotency_in_progress", headers={"Retry-After": "30"})
    engine, rec = await engine_factory(url)
    await engine.send_message("CH0", "after a crash")
    assert await engine.wait_idle(10)  # polled again well before the 30 s lease ran out
    assert relay.sent == [("CH0", "after a crash")] and rec.of(OutboxItemFailed) == []


async def test_one_engine_per_store(tmp_path: Path) -> None:
    from app.sync.api import EngineError
    from app.sync.engine import SyncEngine

    first = SyncEngine(tmp_path / "s")
    await first.start()
    second = SyncEngine(tmp_path / "s")
    try:
        with pytest.raises(EngineError) as err:
            await second.start()
        assert err.value.reason == "store_in_use"
    finally:
        await first.stop()
    await second.start()  # free again once the first stopped
    await second.stop()


async def test_conversations_deliver_in_parallel_each_in_order(
        fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay, 4)
    relay.send_delay = 0.2
    engine, _ = await engine_factory(url)
    for i in range(3):
        for c in range(4):
            await engine.send_message(f"CH{c}", f"{c}-{i}")
    assert await engine.wait_idle(60)
    assert relay.max_in_flight >= 3  # several conversations at once …
    for c in range(4):  # … but one at a time, in order, within each
        assert [b for conv, b in relay.sent if conv == f"CH{c}"] == [f"{c}-{i}" for i in range(3)]


async def test_stream_resumes_with_last_event_id(fake_relay: Any, engine_factory: Any) -> None:
    relay, url = fake_relay
    seed(relay)
    engine, rec = await engine_factory(url)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    cursor = engine.status().cursor
    relay.down = True  # the stream ends; the engine reconnects
    await rec.wait_for(lambda: engine.status().state is SyncState.OFFLINE)
    relay.down = False
    deadline = time.monotonic() + 10
    while relay.stream_connections < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # the relay's counter does not wake the recorder
    assert relay.last_event_ids[-1] == cursor


async def test_a_live_burst_is_applied_in_batches_in_order(
        fake_relay: Any, engine_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst of stream events becomes a few transactions, not one per change."""
    from app.sync import store

    relay, url = fake_relay
    seed(relay, 2)
    engine, rec = await engine_factory(url)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE)
    base = len(relay.log)
    batches: list[tuple[int, str | None]] = []
    original = store.apply_changes

    def spy(conn: Any, changes: Any, cursor: str | None) -> Any:
        batches.append((len(changes), cursor))
        time.sleep(0.05)  # a slow disk: the next events pile up meanwhile
        return original(conn, changes, cursor)

    monkeypatch.setattr(store, "apply_changes", spy)
    # the same message three times, versions rising: the last one must win
    burst = [change("message", msg_data(f"IMb{i}", "CH1", f"burst {i}", at=100 + i))
             for i in range(600)]
    burst += [change("message", msg_data("IMb0", "CH1", f"edit {v}", version=v, at=100))
              for v in (2, 3, 4)]
    relay.publish(*burst)
    final = str(base + len(burst))
    await rec.wait_for(lambda: engine.status().cursor == final, timeout=30)
    assert sum(n for n, _ in batches) == len(burst)
    assert 1 < len(batches) < 100, len(batches)  # coalesced, and bounded per batch
    assert all(n <= 500 for n, _ in batches)
    # each batch's cursor is its last event's id: cursors rise, the last is the end
    cursors = [int(c) for _, c in batches if c is not None]
    assert cursors == sorted(cursors) and cursors[-1] == base + len(burst)
    live = [e for e in rec.of(ChangesApplied) if e.message_sids & {"IMb1", "IMb599"}]
    assert not any(e.initial_catch_up for e in live)
    thread = await engine.thread("CH1", limit=1000)
    bodies = {m.message_sid: m.body for m in thread}
    assert bodies["IMb0"] == "edit 4" and len([s for s in bodies if s.startswith("IMb")]) == 600
    # the stored cursor is the one the engine reports (a restart resumes there)
    assert await engine.db.reader.run(store.get_meta, "cursor") == final


async def test_a_file_system_without_locks_is_a_clear_error_not_a_stuck_lock_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import fcntl

    from app.sync.api import EngineError
    from app.sync.engine import SyncEngine

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    engine = SyncEngine(tmp_path / "s")
    with pytest.raises(EngineError) as err:
        await engine.start()
    assert err.value.reason == "store_lock_unavailable"
    monkeypatch.undo()
    await engine.start()  # a file system that can lock: starts, nothing left behind
    await engine.stop()

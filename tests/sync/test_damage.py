"""A damaged store, with real damage: bytes overwritten in pages of a real SQLite file
(the outbox, the mirror, the file's header). The engine keeps the damaged file, queues
every readable row again, pulls the mirror from the relay, says once what it kept and
what it could not read, and the relay gets every kept message exactly once.

Against the fake relay port (`fake_relay.py`, real HTTP, idempotency keys honoured);
`test_damage_live.py` does the same against the real relay and the Twilio simulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.sync.api import LeadFilter, StatusChanged, SyncState
from app.sync.inbox import DB_FILENAME
from app.sync.repair import ATTACHMENTS, RUNNING_MARKER, repair_store
from app.sync.salvage import salvage
from tests.sync.conftest import fast_engine
from tests.sync.damage import checkpoint, kept_files, overwrite_page, pages_of
from tests.sync.fake_relay import FakeRelay, change, conv_data, lead_data, msg_data

CONVS = ("CH1", "CH2", "CH3")


def _seed(relay: FakeRelay) -> None:
    for i, conv in enumerate(CONVS):
        relay.publish(change("conversation", conv_data(conv)),
                      change("lead", lead_data(f"l{i}", conv, name=f"Customer {i}")))
        for j in range(40):  # mirrored history: the messages table spans many pages
            relay.publish(change("message", msg_data(f"IM{i}{j:03d}", conv,
                                                     f"customer text {j} " + "y" * 120)))


async def _queue_offline(data: Path, count: int) -> list[str]:
    """Messages queued with no relay (the PC was offline); the engine stops cleanly."""
    offline = fast_engine(data, None)
    await offline.start()
    bodies = [f"m{i:03d} " + "x" * 80 for i in range(count)]
    for i, body in enumerate(bodies):
        await offline.send_message(CONVS[i % 3], body)
    await offline.stop()
    return bodies


async def _sync_once(data: Path, url: str) -> None:
    """One session online: the mirror is filled, then the engine stops cleanly."""
    engine = fast_engine(data, url)
    await engine.start()
    assert await engine.wait_idle(30)
    await engine.stop()


def _sent_once_in_order(relay: FakeRelay, bodies: list[str]) -> list[str]:
    """What the relay accepted: each body once, in queue order per conversation."""
    sent = [b for _, b in relay.sent]
    assert len(sent) == len(set(sent)), "a message was sent twice"
    assert set(sent) <= set(bodies)
    for conv in CONVS:
        mine = [b for c, b in relay.sent if c == conv]
        assert mine == sorted(mine), f"{conv} out of order"
    return sent


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_an_outbox_page_overwritten_loses_nothing(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    """The rows of the damaged outbox page come back from their queued messages."""
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    bodies = await _queue_offline(data, 150)
    checkpoint(data)
    leaves = pages_of(data, "outbox")
    assert len(leaves) >= 4
    overwrite_page(data, leaves[1])
    damaged = _sha(data / DB_FILENAME)

    engine, rec = await engine_factory(url, "desk")
    await rec.wait_for(lambda: engine.status().repair is not None, 30)
    assert await engine.wait_idle(60)
    assert sorted(_sent_once_in_order(relay, bodies)) == bodies  # every one, once
    report = engine.status().repair
    assert report is not None and len(report.saved) == 150 and report.unreadable == 0
    assert "150 messages waiting to be sent" in report.message
    [kept] = kept_files(data)
    assert _sha(kept) == damaged  # set aside as it was, never deleted
    assert str(kept) == report.kept_at and str(kept) in report.message
    # the mirror came back from the relay
    assert await engine.count_leads(LeadFilter()) == 3
    # told once: acknowledged, it is not reported again (not after a restart either)
    await engine.acknowledge_repair()
    assert engine.status().repair is None
    await engine.stop()
    again, _ = await engine_factory(url, "desk")
    assert again.status().repair is None


async def test_rows_lost_with_their_messages_are_reported_not_hidden(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    bodies = await _queue_offline(data, 150)
    checkpoint(data)
    overwrite_page(data, pages_of(data, "outbox")[2])
    for page in pages_of(data, "messages"):  # the queued sends' second copy too
        overwrite_page(data, page, seed=page)
    before = salvage(data / DB_FILENAME)
    assert before.failed_reads > 0 and not before.rebuilt

    engine, rec = await engine_factory(url, "desk")
    await rec.wait_for(lambda: engine.status().repair is not None, 30)
    assert await engine.wait_idle(60)
    sent = _sent_once_in_order(relay, bodies)
    report = engine.status().repair
    assert report is not None
    lost = len(bodies) - len(sent)
    assert lost > 0 and lost == report.unreadable  # counted by the keys its index lists
    assert len(report.saved) == len(sent)
    assert f"Up to {report.unreadable} waiting items could not be read" in report.message


def test_with_the_outbox_index_damaged_too_rows_are_read_in_key_order(
        tmp_path: Path) -> None:
    data = tmp_path / "desk"
    bodies = asyncio.run(_queue_offline(data, 150))
    checkpoint(data)
    leaves = pages_of(data, "outbox")
    overwrite_page(data, leaves[-1])  # the newest rows: no key beyond it is readable
    for page in [*pages_of(data, "sqlite_autoindex_outbox_1"),
                 *pages_of(data, "sqlite_autoindex_outbox_1", "internal")]:
        overwrite_page(data, page, seed=page)
    found = salvage(data / DB_FILENAME)
    read = [json.loads(r["payload"])["body"] for r in found.outbox]
    assert read == bodies[:len(read)] and 0 < len(read) < len(bodies)  # in order, none made up
    assert found.failed_reads > 0
    rebuilt = [json.loads(r["payload"])["body"] for r in found.rebuilt]
    assert sorted(read + rebuilt) == bodies  # their messages fill the gap


async def test_a_mirror_page_overwritten_is_found_at_run_time(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    """A clean shutdown, then damage in the mirror: found when a query reads it."""
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    await _sync_once(data, url)
    relay.down = True  # offline while the user writes
    bodies = await _queue_offline(data, 30)
    checkpoint(data)
    for page in pages_of(data, "messages")[:3]:
        overwrite_page(data, page, seed=page)

    engine, rec = await engine_factory(url, "desk")
    assert engine.status().repair is None  # a clean shutdown: no check at start
    thread = await engine.thread("CH1")  # reads the damaged pages: repaired, answered
    assert engine.status().repair is not None
    assert [m.body for m in thread if m.status == "pending"] == bodies[0::3]
    relay.down = False
    assert await engine.wait_idle(60)
    assert sorted(_sent_once_in_order(relay, bodies)) == bodies
    assert len([m for m in await engine.thread("CH1") if m.author_kind == "customer"]) == 40
    assert any(isinstance(e, StatusChanged) and e.status.state is SyncState.REPAIRING
               for e in rec.events)


async def test_a_read_from_another_loop_waits_for_the_repair_it_found(
        tmp_path: Path, fake_relay: Any) -> None:
    """The desktop awaits the engine's reads on its own loop (the engine runs on a thread
    of its own): damage found by such a read is repaired on the engine's loop, and the
    read is answered from the repaired store."""
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    await _sync_once(data, url)
    relay.down = True
    bodies = await _queue_offline(data, 30)
    checkpoint(data)
    for page in pages_of(data, "messages")[:3]:
        overwrite_page(data, page, seed=page)

    engine_loop = asyncio.new_event_loop()
    runner = threading.Thread(target=engine_loop.run_forever, name="engine-loop")
    runner.start()

    async def there(coro: Any) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, engine_loop))

    engine = fast_engine(data, url)
    try:
        await there(engine.start())
        assert engine.status().repair is None
        thread = await engine.thread("CH1")  # on this loop, not the engine's
        assert engine.status().repair is not None
        assert [m.body for m in thread if m.status == "pending"] == bodies[0::3]
        relay.down = False
        assert await there(engine.wait_idle(60))
        assert sorted(_sent_once_in_order(relay, bodies)) == bodies
    finally:
        await there(engine.stop())
        engine_loop.call_soon_threadsafe(engine_loop.stop)
        await asyncio.to_thread(runner.join)
        engine_loop.close()


async def test_after_a_crash_the_store_is_checked_at_start(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    await _sync_once(data, url)
    bodies = await _queue_offline(data, 12)
    checkpoint(data)
    overwrite_page(data, pages_of(data, "leads_fts_data")[0])  # nothing at start reads it
    clean, _ = await engine_factory(None, "desk")
    assert clean.status().repair is None  # clean shutdown: not checked, not found
    await clean.stop()

    (data / RUNNING_MARKER).touch()  # what a crash or a power cut leaves behind
    engine, _ = await engine_factory(url, "desk")
    report = engine.status().repair  # found by the check before start() returned
    assert report is not None
    assert "malformed" in report.detail or "corrupt" in report.detail, report.detail
    assert await engine.wait_idle(60)
    assert sorted(_sent_once_in_order(relay, bodies)) == bodies


async def test_a_row_that_had_already_gone_is_not_sent_twice(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    """A half-restored backup: rows the relay took since are queued again in it."""
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    bodies = await _queue_offline(data, 9)
    backup = tmp_path / "backup"
    shutil.copytree(data, backup)
    await _sync_once(data, url)  # all nine delivered
    assert sorted(b for _, b in relay.sent) == bodies
    shutil.rmtree(data)
    shutil.copytree(backup, data)  # restored: nine rows pending again
    checkpoint(data)
    overwrite_page(data, pages_of(data, "messages")[0])

    engine, _ = await engine_factory(url, "desk")
    await engine.thread("CH1")  # meets the damage
    assert await engine.wait_idle(60)
    assert engine.status().repair is not None
    assert sorted(_sent_once_in_order(relay, bodies)) == bodies  # still once each


async def test_a_send_that_meets_damage_is_queued_on_the_repaired_store(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    bodies = await _queue_offline(data, 60)
    checkpoint(data)
    overwrite_page(data, pages_of(data, "outbox")[-1])  # where the next row goes
    relay.down = True
    engine, _ = await engine_factory(url, "desk")
    msg = await engine.send_message("CH2", "typed during the damage")
    assert msg.status == "pending" and engine.status().repair is not None
    relay.down = False
    assert await engine.wait_idle(60)
    sent = _sent_once_in_order(relay, [*bodies, msg.body])
    assert sorted(sent) == sorted([*bodies, msg.body])


async def test_a_store_whose_header_is_gone_is_reported_unrecoverable(
        tmp_path: Path, fake_relay: Any, engine_factory: Callable[..., Any]) -> None:
    relay, url = fake_relay
    _seed(relay)
    data = tmp_path / "desk"
    await _queue_offline(data, 5)
    checkpoint(data)
    with open(data / DB_FILENAME, "r+b") as f:
        f.write(b"\0" * 100)  # "file is not a database"
    engine, _ = await engine_factory(url, "desk")
    report = engine.status().repair
    assert report is not None and report.outbox_unreadable and not report.saved
    assert "could not be read at all" in report.message
    assert await engine.wait_idle(60)
    assert relay.sent == []  # nothing guessed, nothing sent twice
    assert await engine.count_leads(LeadFilter()) == 3  # the mirror is back
    assert kept_files(data)


async def _queue_photos_offline(data: Path, source: Path, count: int) -> list[str]:
    """`count` texts queued offline, the first and the last with a photo attached (the
    engine copies it into `attachments/`); their bodies."""
    offline = fast_engine(data, None)
    await offline.start()
    bodies = [f"p{i:03d} " + "x" * 80 for i in range(count)]
    for i, body in enumerate(bodies):
        await offline.send_message("CH1", body, source if i in (0, count - 1) else None)
    await offline.stop()
    return bodies


def _queued(data: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(data / DB_FILENAME)
    try:
        return [json.loads(r[0]) for r in conn.execute(
            "SELECT payload FROM outbox WHERE kind = 'send_message' ORDER BY created_at")]
    finally:
        conn.close()


@pytest.mark.parametrize("messages_too", [False, True], ids=["outbox-page", "both-copies"])
def test_photos_of_queued_sends_are_kept_and_those_of_lost_rows_listed(
        tmp_path: Path, messages_too: bool) -> None:
    """A send's photo is a file staged in `attachments/`: a send whose outbox row is
    unreadable comes back from its message with its photo; when both copies are lost,
    the photo stays on disk and the report names it. No file is ever deleted."""
    data = tmp_path / "desk"
    source = tmp_path / "sofa.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 600)
    bodies = asyncio.run(_queue_photos_offline(data, source, 150))
    staged = sorted(p.name for p in (data / ATTACHMENTS).iterdir())
    assert len(staged) == 2
    checkpoint(data)
    overwrite_page(data, pages_of(data, "outbox")[-1])  # the newest rows, the last photo's
    if messages_too:
        for page in pages_of(data, "messages")[-1:]:
            overwrite_page(data, page, seed=page)

    report = repair_store(data, "test damage", datetime.now(UTC))
    assert sorted(p.name for p in (data / ATTACHMENTS).iterdir()) == staged  # all kept
    photos = [q["attachment"] for q in _queued(data) if "attachment" in q]
    first = photos[0]
    assert Path(first["path"]).read_bytes() == source.read_bytes()
    assert first["contentType"] == "image/png" and first["filename"] == "sofa.png"
    assert report.saved[0].preview.endswith("(+ photo)")
    if not messages_too:  # rebuilt from its message, photo and all
        assert len(photos) == 2 and report.orphan_files == () and report.unreadable == 0
        assert [q["body"] for q in _queued(data)] == bodies
    else:  # its text and photo unreadable twice over: the photo is named, not lost
        assert len(photos) == 1 and report.unreadable > 0
        [last] = [name for name in staged if name != Path(first["path"]).name]
        assert report.orphan_files == (f"{ATTACHMENTS}/{last}",)
        assert "1 attached file of unreadable items is kept" in report.message

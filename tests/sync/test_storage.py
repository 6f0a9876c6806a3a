"""A data folder that takes no writes, for real: a small tmpfs that fills up, a drive
(bind mount) unplugged and plugged back, a folder mounted read-only. Text typed then is
refused with a clear problem (which folder, how much room, what to do), nothing
already accepted is lost, and the engine carries on by itself once the folder takes
writes again: every accepted message reaches the relay exactly once.

Mounting needs root (the CI runs tests as root); elsewhere these tests skip and say why.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.sync.api import SyncState
from app.sync.engine import SyncEngine
from app.sync.storage import DISK_FULL, MISSING, READ_ONLY, StorageError
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.damage import (
    Drive,
    checkpoint,
    fill,
    kept_files,
    overwrite_page,
    pages_of,
    tiny_disk,
)
from tests.sync.fake_relay import FakeRelay, change, conv_data, lead_data


def _seed(relay: FakeRelay) -> None:
    relay.publish(change("conversation", conv_data("CH1")), change("lead", lead_data("l1", "CH1")))


@contextlib.asynccontextmanager
async def running(data: Path, url: str) -> AsyncIterator[tuple[SyncEngine, Recorder]]:
    engine = fast_engine(data, url, storage_probe_interval=0.05)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, 20)
        yield engine, rec
    finally:
        await engine.stop()


async def _send_until_refused(engine: SyncEngine, prefix: str,
                              limit: int = 2000) -> tuple[list[str], StorageError]:
    """Sends until one is refused (SQLite reuses its WAL, so a full disk takes a few
    small writes before it bites); the accepted texts and the refusal."""
    accepted: list[str] = []
    for i in range(limit):
        body = f"{prefix} {i:04d} " + "z" * 400
        try:
            await engine.send_message("CH1", body)
        except StorageError as exc:
            return accepted, exc
        accepted.append(body)
    raise AssertionError("the full disk never refused a write")


async def test_a_full_disk_refuses_clearly_keeps_what_was_accepted_and_recovers(
        tmp_path: Path, fake_relay: Any) -> None:
    relay, url = fake_relay
    _seed(relay)
    with tiny_disk(tmp_path, 24) as disk:
        data = disk / "Web2Text"
        async with running(data, url) as (engine, rec):
            relay.down = True  # the relay is away: what is accepted waits in the outbox
            early = [f"early {i}" for i in range(3)]
            for body in early:
                await engine.send_message("CH1", body)
            filler = fill(disk)
            accepted, refused = await _send_until_refused(engine, "late")
            problem = refused.problem
            assert refused.reason == problem.reason == DISK_FULL
            assert problem.folder == str(data) and str(data) in problem.message
            assert problem.needed_bytes and problem.needed_bytes > (problem.free_bytes or 0)
            assert "MB free there" in problem.message and "Free some space" in problem.message
            await rec.wait_for(lambda: engine.status().state is SyncState.STORAGE_PROBLEM)
            assert engine.status().storage is not None
            # a photo cannot be copied in either: refused the same way, no half copy left
            photo = tmp_path / "sofa.png"
            photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (1 << 20))
            with pytest.raises(StorageError) as no_room:
                await engine.send_message("CH1", "with a photo", photo)
            assert no_room.value.reason == DISK_FULL
            assert not list((data / "attachments").glob("*"))
            relay.down = False
            filler.unlink()  # room again: the engine carries on by itself
            await rec.wait_for(lambda: engine.status().storage is None, 30)
            assert await engine.wait_idle(30)
            await engine.send_message("CH1", "after")
            assert await engine.wait_idle(30)
    assert [b for _, b in relay.sent] == [*early, *accepted, "after"]


async def test_an_unplugged_drive_pauses_and_a_replugged_one_carries_on(
        tmp_path: Path, fake_relay: Any) -> None:
    relay, url = fake_relay
    _seed(relay)
    drive = Drive(tmp_path)
    try:
        data = drive.where / "Web2Text"
        async with running(data, url) as (engine, rec):
            relay.down = True
            await engine.send_message("CH1", "queued before the drive went")
            drive.unplug()
            with pytest.raises(StorageError) as refused:
                await engine.send_message("CH1", "typed while it is gone")
            assert refused.value.reason == MISSING
            assert str(data) in refused.value.message and "plugged" in refused.value.message
            await rec.wait_for(lambda: engine.status().state is SyncState.STORAGE_PROBLEM)
            drive.plug()  # the same drive, back
            relay.down = False
            await rec.wait_for(lambda: engine.status().storage is None, 30)
            assert await engine.wait_idle(30)
    finally:
        drive.close()
    assert [b for _, b in relay.sent] == ["queued before the drive went"]


async def test_a_drive_back_read_only_is_said_so_until_writable(
        tmp_path: Path, fake_relay: Any) -> None:
    relay, url = fake_relay
    _seed(relay)
    drive = Drive(tmp_path)
    try:
        data = drive.where / "Web2Text"
        async with running(data, url) as (engine, rec):
            relay.down = True
            await engine.send_message("CH1", "kept through it all")
            drive.unplug()
            with pytest.raises(StorageError):
                await engine.send_message("CH1", "refused")
            drive.plug(read_only=True)  # back, but read-only (a write-protect switch)

            def says_read_only() -> bool:
                storage = engine.status().storage
                return storage is not None and storage.reason == READ_ONLY

            await rec.wait_for(says_read_only, 30)
            with pytest.raises(StorageError) as refused:
                await engine.send_message("CH1", "refused too")
            assert refused.value.reason == READ_ONLY and "read-only" in refused.value.message
            drive.writable()
            relay.down = False
            await rec.wait_for(lambda: engine.status().storage is None, 30)
            assert await engine.wait_idle(30)
    finally:
        drive.close()
    assert [b for _, b in relay.sent] == ["kept through it all"]


async def test_a_read_only_folder_at_start_is_a_clear_error(tmp_path: Path) -> None:
    drive = Drive(tmp_path)
    try:
        data = drive.where / "Web2Text"
        first = fast_engine(data, None)
        await first.start()
        await first.send_message("CH1", "queued")
        await first.stop()
        drive.read_only()
        engine = fast_engine(data, None)
        with pytest.raises(StorageError) as refused:
            await engine.start()
        assert refused.value.reason == READ_ONLY and str(data) in refused.value.message
        drive.writable()
        await engine.start()  # the same engine starts once the folder is writable
        assert engine.status().pending == 1
        await engine.stop()
    finally:
        drive.close()


async def test_a_repair_that_finds_the_disk_full_finishes_once_there_is_room(
        tmp_path: Path, fake_relay: Any) -> None:
    relay, url = fake_relay
    _seed(relay)
    with tiny_disk(tmp_path, 24) as disk:
        data = disk / "Web2Text"
        offline = fast_engine(data, None)
        await offline.start()
        bodies = [f"queued {i:03d} " + "q" * 200 for i in range(60)]
        for body in bodies:
            await offline.send_message("CH1", body)
        await offline.stop()
        checkpoint(data)
        overwrite_page(data, pages_of(data, "outbox")[1])
        filler = fill(disk)  # no room for the rebuilt store
        engine = fast_engine(data, url, storage_probe_interval=0.05)
        rec = Recorder()
        engine.add_listener(rec)
        await engine.start()  # the damage is met, the repair meets the full disk
        try:
            await rec.wait_for(lambda: engine.status().storage is not None, 30)
            problem = engine.status().storage
            assert problem is not None and problem.reason == DISK_FULL
            assert problem.folder == str(data)
            with pytest.raises(StorageError):
                await engine.send_message("CH1", "typed meanwhile")
            assert kept_files(data) == []  # the damaged store is still where it was
            filler.unlink()
            await rec.wait_for(lambda: engine.status().repair is not None, 30)
            assert await engine.wait_idle(60)
        finally:
            await engine.stop()
        assert len(kept_files(data)) == 1
    assert [b for _, b in relay.sent] == bodies

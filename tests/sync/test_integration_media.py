"""Photos through the engine against the real relay (DynamoDB Local, the Twilio
simulator): a customer's photo is mirrored with the message and its file fetched once
into the data folder; a photo staff attach while offline is copied into the data
folder at once and reaches the customer exactly once, with its text, after the
engine comes back (a restart included); wrong types and oversized files are refused."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox.twilio_sim import SimHandle
from app.sync.api import EngineError, SyncState, ThreadMessage
from app.sync.engine import SyncEngine
from app.sync.media import MAX_ATTACHMENT_BYTES
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator, wait_until
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.integration import create_lead

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7201, 7212)]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JPEG = b"\xff\xd8\xff\xe0" + b"\x42" * 900


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.5, stream_poll_s=0.05)
    sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
    seed = seed_dealer(relay, web2text_number="+13125550162", pool=POOL)
    yield relay, seed
    relay.stop()


async def _online(engine: SyncEngine) -> None:
    rec = Recorder()
    engine.add_listener(rec)
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)


async def _message(
    engine: SyncEngine, sid: str, pred: object, what: str, timeout: float = 20.0
) -> ThreadMessage:
    assert callable(pred)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [m for m in await engine.thread(sid) if pred(m)]
        if found:
            return found[0]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_customer_photo_is_mirrored_and_fetched_once(
    live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path
) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Pia Photo")
    proxy = sim.handset(lead.customer)[0]["from"]
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    await engine.start()
    try:
        await _online(engine)
        photo = [{"contentType": "image/png", "filename": "rug.png",
                  "dataBase64": base64.b64encode(PNG).decode()}]
        sent = sim.inbound(lead.customer, proxy, "", photo)
        msg = await _message(engine, lead.conversation_sid, lambda m: m.media, "the photo")
        assert msg.author_kind == "customer"
        [item] = msg.media
        assert item.sid == sent["media"][0]["sid"]
        assert (item.content_type, item.filename, item.size) == ("image/png", "rug.png", len(PNG))
        assert item.sid is not None
        first, second = await asyncio.gather(
            engine.media_file(item.sid), engine.media_file(item.sid))
        assert first == second == tmp_path / "desk" / "media" / item.sid
        assert first.read_bytes() == PNG
        with pytest.raises(EngineError) as err:
            await engine.media_file("../../etc/passwd")
        assert err.value.reason == "media_unavailable"
    finally:
        await engine.stop()


async def test_a_live_photo_is_fetched_ahead_before_any_thread_asks(
    live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path
) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Pat Prefetch")
    proxy = sim.handset(lead.customer)[0]["from"]
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key)
    await engine.start()
    try:
        await _online(engine)
        photo = [{"contentType": "image/jpeg", "filename": "dent.jpg",
                  "dataBase64": base64.b64encode(JPEG).decode()}]
        sid = sim.inbound(lead.customer, proxy, "", photo)["media"][0]["sid"]
        cached = tmp_path / "desk" / "media" / sid
        await _message(engine, lead.conversation_sid, lambda m: m.media, "the photo")
        # nobody asked for the file: the engine fetched it as the message was mirrored
        deadline = asyncio.get_running_loop().time() + 20.0
        while not cached.exists() or engine.prefetch.pending:
            assert asyncio.get_running_loop().time() < deadline, "the photo was not fetched"
            await asyncio.sleep(0.05)
        assert cached.read_bytes() == JPEG
        assert await engine.media_file(sid) == cached
    finally:
        await engine.stop()


async def test_an_attachment_written_offline_is_sent_once_with_its_text(
    live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path
) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Omar Offline")
    source = tmp_path / "sofa.jpg"
    source.write_bytes(JPEG)
    desk = tmp_path / "desk"
    # offline: no relay reachable; the photo is copied into the data folder at once
    offline = fast_engine(desk, "http://127.0.0.1:9", seed.staff_key)
    await offline.start()
    try:
        pending = await offline.send_message(lead.conversation_sid, "ph: the sofa", source)
        assert pending.status == "pending"
        [item] = pending.media
        assert item.local_path is not None and Path(item.local_path).parent == desk / "attachments"
        assert item.content_type == "image/jpeg" and item.size == len(JPEG)
    finally:
        await offline.stop()
    source.unlink()  # the original may go: the outbox has its own copy
    online = fast_engine(desk, relay.url, seed.staff_key)
    await online.start()
    try:
        await _online(online)
        assert await online.wait_idle(30)
        await asyncio.to_thread(
            wait_until, lambda: [m for m in sim.handset(lead.customer)
                                 if m["body"].startswith("ph:")], 10)
        got = [m for m in sim.handset(lead.customer) if m["body"].startswith("ph:")]
        assert len(got) == 1
        assert got[0]["media"] == [{"contentType": "image/jpeg", "filename": "sofa.jpg",
                                    "size": len(JPEG)}]
        msg = await _message(online, lead.conversation_sid,
                             lambda m: m.body == "ph: the sofa" and m.message_sid
                             and m.media and m.media[0].sid, "the relay's copy")
        sid = msg.media[0].sid
        assert sid is not None
        cached = desk / "media" / sid
        assert cached.read_bytes() == JPEG  # our own copy, adopted: never downloaded
        assert not any((desk / "attachments").iterdir())
    finally:
        await online.stop()


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"GIF-not-really" + b"x" * 50, "unsupported_media_type"),
     (b"\xff\xd8\xff" + b"\0" * MAX_ATTACHMENT_BYTES, "media_too_large")],
)
async def test_wrong_type_and_oversized_attachments_are_refused_at_once(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    engine = fast_engine(tmp_path / "desk", None, None)
    await engine.start()
    try:
        source = tmp_path / "file.bin"
        source.write_bytes(content)
        with pytest.raises(EngineError) as err:
            await engine.send_message("CH" + "0" * 32, "look", source)
        assert err.value.reason == reason
        assert await engine.thread("CH" + "0" * 32) == []
    finally:
        await engine.stop()

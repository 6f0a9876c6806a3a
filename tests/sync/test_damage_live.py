"""A damaged PC against the real relay (DynamoDB Local) and the Twilio simulator: the
customer's handset (`GET /_sim/handset/{e164}`) is the ground truth that every message
the desktop accepted arrives exactly once, in order.

- a `web2text-sync run` SIGKILLed while it delivers, then pages of its store overwritten
  (an outbox page, a mirror page): the next run checks the store (the shutdown was not
  clean), repairs it and delivers the rest;
- a data folder on a small tmpfs that fills up while the relay is out of reach, then is
  freed;
- a PC clock a day behind.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox.twilio_sim import SimHandle
from app.sync.api import SyncState
from app.sync.repair import RUNNING_MARKER
from app.sync.storage import StorageError
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator, wait_until
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.crash import SCRIPT, accepted_count, cli_env, queue_messages
from tests.sync.damage import checkpoint, fill, kept_files, overwrite_page, pages_of, tiny_disk
from tests.sync.integration import TcpProxy, create_lead

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7201, 7210)]
DAY = 86_400.0


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.5,
                        stream_poll_s=0.05)
    sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
    seed = seed_dealer(relay, web2text_number="+13125550222", store_number="+13125550298",
                       pool=POOL)
    yield relay, seed
    relay.stop()


def handset(sim: SimHandle, phone: str, prefix: str) -> list[str]:
    """The simulated phone's texts that start with `prefix`, from `/_sim/handset`."""
    got = httpx.get(f"{sim.url}/_sim/handset/{phone}", timeout=10).json()
    return [m["body"] for m in got["messages"] if m["body"].startswith(prefix)]


def test_killed_then_damaged_every_message_reaches_the_handset_once(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed)
    bodies = [f"dmg {i:03d} " + "x" * 300 for i in range(40)]
    data = tmp_path / "desk"
    queue_messages(data, [(lead.conversation_sid, b) for b in bodies])
    delivered = accepted_count(data, len(bodies))
    env = cli_env(seed.staff_key)
    proc = subprocess.Popen([SCRIPT, "--data-dir", str(data), "--relay-url", relay.url, "run"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: delivered() >= 8, 60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (data / RUNNING_MARKER).exists()  # it died: the next start checks the store
    checkpoint(data)
    overwrite_page(data, pages_of(data, "outbox")[-1])  # undelivered rows live there
    overwrite_page(data, pages_of(data, "leads")[0])  # and the mirror

    final = subprocess.run([SCRIPT, "--data-dir", str(data), "--relay-url", relay.url, "run",
                            "--until-idle", "--timeout", "120"],
                           env=env, capture_output=True, text=True, timeout=180)
    out = json.loads(final.stdout.strip().splitlines()[-1])
    assert final.returncode == 0, out
    assert out["repair"]["keptAt"] == str(kept_files(data)[0])
    assert "Traceback" not in final.stderr
    sim.wait_idle(20)
    assert handset(sim, lead.customer, "dmg ") == bodies  # each once, in order


async def test_a_full_disk_loses_nothing_accepted(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed)
    proxy = TcpProxy(int(relay.url.rsplit(":", 1)[1]))
    try:
        with tiny_disk(tmp_path, 24) as disk:
            engine = fast_engine(disk / "Web2Text", proxy.url, seed.staff_key,
                                 storage_probe_interval=0.05)
            rec = Recorder()
            engine.add_listener(rec)
            await engine.start()
            try:
                await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, 30)
                proxy.cut()  # the relay out of reach: what is accepted waits
                accepted = []
                filler = fill(disk)
                for i in range(2000):
                    body = f"full {i:04d} " + "z" * 400
                    try:
                        await engine.send_message(lead.conversation_sid, body)
                    except StorageError as exc:
                        assert exc.reason == "disk_full"
                        break
                    accepted.append(body)
                else:
                    raise AssertionError("the disk never filled")
                await rec.wait_for(lambda: engine.status().storage is not None, 30)
                filler.unlink()
                proxy.restore()
                await rec.wait_for(lambda: engine.status().storage is None, 30)
                assert await engine.wait_idle(120)
            finally:
                await engine.stop()
    finally:
        proxy.close()
    await asyncio.to_thread(sim.wait_idle, 20)
    assert handset(sim, lead.customer, "full ") == accepted


async def test_a_pc_clock_a_day_behind_changes_nothing_seen(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    lead = create_lead(relay, seed)
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key,
                         local_clock=lambda: time.time() - DAY)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, 30)
        assert abs(engine.status().clock_offset - DAY) <= 3.0
        sent = await engine.send_message(lead.conversation_sid, "skew: see you at 3")
        assert abs(sent.created_at.timestamp() - time.time()) <= 5.0
        assert await engine.wait_idle(30)
        await asyncio.to_thread(sim.inbound, lead.customer, _pool_number(sim, lead.customer),
                                "skew: great, thanks")

        async def both() -> list[str]:
            return [m.body for m in await engine.thread(lead.conversation_sid)
                    if m.body.startswith("skew:")]

        # the relay's copy of ours, then the reply, ordered by the relay's time
        await _until(rec, both, ["skew: see you at 3", "skew: great, thanks"])
    finally:
        await engine.stop()
    assert handset(sim, lead.customer, "skew:") == ["skew: see you at 3"]


async def _until(rec: Recorder, read: Any, expected: list[str], timeout: float = 30) -> None:
    """Until `await read()` gives `expected`, re-read after each engine event."""
    deadline = time.monotonic() + timeout
    while True:
        rec.expect()  # (before reading: an event during the read is not missed)
        got = await read()
        if got == expected:
            return
        left = deadline - time.monotonic()
        assert left > 0, got
        await rec.wait_next(left)


def _pool_number(sim: SimHandle, customer: str) -> str:
    """The pool number that texts `customer` (the sender of what their handset got)."""
    got = httpx.get(f"{sim.url}/_sim/handset/{customer}", timeout=10).json()
    return str(got["messages"][-1]["from"])

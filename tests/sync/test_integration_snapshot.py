"""A new desktop against the real relay (uvicorn, DynamoDB Local): it bootstraps from
`GET /v1/snapshot` (paged; not a replay of the change log), follows the feed from the
snapshot's cursor, and a thread's older messages come from the relay through
`Engine.thread` (opening does not wait; scrolling up does)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.sync.api import ChangesApplied, LeadFilter, SyncState
from bench.relay.history import Dealer, conversation_sid, lead_id, write_history
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.fake_relay import lead_data

pytestmark = pytest.mark.dynamodb

LEADS, PER_THREAD = 60, 130


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(
        dynamodb_endpoint, background=False, stream_heartbeat_s=0.3, stream_poll_s=0.05
    )
    try:
        seed = seed_dealer(relay, web2text_number="+13125550124")
        dealer = Dealer(seed.retailer_id, seed.location_id, seed.web2text_number)
        write_history(relay.tables, dealer, LEADS, LEADS * PER_THREAD)
        yield relay, seed
    finally:
        relay.stop()


def _record_lead(relay: RelayHandle, seed: Seed, ident: str) -> None:
    data = {**lead_data(ident, None, name=ident), "locationId": seed.location_id,
            "retailerId": seed.retailer_id}
    relay.ctx.change_log.record(seed.location_id, "lead", ident, data["version"], data)


def test_snapshot_pages_and_bad_tokens(live: tuple[RelayHandle, Seed]) -> None:
    relay, seed = live
    auth = {"Authorization": f"Bearer {seed.staff_key}"}
    seen: list[str] = []
    cursors: set[str] = set()
    token: str | None = None
    for _ in range(10):
        params = {"limit": 25, **({"page": token} if token else {})}
        r = httpx.get(f"{relay.url}/v1/snapshot", headers=auth, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [c["id"] for c in body["changes"] if c["entity"] == "lead"]
        cursors.add(body["cursor"])
        token = body["next"]
        if token is None:
            break
    assert sorted(seen) == sorted(lead_id(i) for i in range(LEADS))  # each once
    assert len(cursors) == 1  # every page names the position it was taken at
    r = httpx.get(f"{relay.url}/v1/snapshot", headers=auth, params={"page": "nonsense"})
    assert r.status_code == 400 and r.json()["reason"] == "invalid_page_token"
    r = httpx.get(f"{relay.url}/v1/conversations/CHnope/messages", headers=auth)
    assert r.status_code == 404
    other = seed_dealer(relay, web2text_number="+13125550125")
    r = httpx.get(f"{relay.url}/v1/conversations/{conversation_sid(0)}/messages",
                  headers={"Authorization": f"Bearer {other.staff_key}"})
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"


async def test_a_new_desktop_bootstraps_from_the_snapshot(
    live: tuple[RelayHandle, Seed], tmp_path: Path
) -> None:
    relay, seed = live
    _record_lead(relay, seed, "log-only-lead")  # in the log, not in the tables
    # one page: more threads than come with it (FIRST_THREADS), in BatchGetItem's order
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key, batch_size=LEADS)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=30)
        leads = {row.lead_id for row in await engine.list_leads(LeadFilter(), limit=100)}
        assert leads == {lead_id(i) for i in range(LEADS)}  # the log was not replayed
        # the newest leads' threads came with the first page, the others did not
        with_messages = await engine.db.reader.run(
            lambda conn: {r[0] for r in conn.execute(
                "SELECT DISTINCT conversation_sid FROM messages")})
        assert with_messages == {conversation_sid(i) for i in range(LEADS - 50, LEADS)}
        # the feed goes on from the snapshot's cursor
        _record_lead(relay, seed, "live-lead")
        await rec.wait_for(lambda: any(
            isinstance(e, ChangesApplied) and "live-lead" in e.lead_ids for e in rec.events),
            timeout=30)

        newest = conversation_sid(LEADS - 1)  # the top of the inbox: its newest page came
        thread = await engine.thread(newest, limit=50)
        assert [m.body for m in thread] == [f"message {n}" for n in range(80, 130)]
        older = await engine.thread(newest, limit=50, before=thread[0].created_at)
        assert [m.body for m in older] == [f"message {n}" for n in range(30, 80)]
        oldest = await engine.thread(newest, limit=50, before=older[0].created_at)
        assert [m.body for m in oldest] == [f"message {n}" for n in range(30)]
        assert await engine.thread(newest, limit=50, before=oldest[0].created_at) == []

        bare = conversation_sid(0)  # not at the top: opening fetches in the background
        assert await engine.thread(bare, limit=50) == []
        await rec.wait_for(lambda: any(
            isinstance(e, ChangesApplied) and bare in e.thread_sids for e in rec.events),
            timeout=30)
        thread = await engine.thread(bare, limit=50)
        assert [m.body for m in thread] == [f"message {n}" for n in range(80, 130)]
        hits = await engine.search("Customer 3")  # local: the mirror holds every lead
        assert lead_id(3) in {h.lead_id for h in hits}
    finally:
        await engine.stop()
        await asyncio.sleep(0)


async def test_older_messages_are_fetched_on_the_engines_loop_when_read_from_another(
    live: tuple[RelayHandle, Seed], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desktop reads the store from the Qt loop (`ThreadedEngine`, reads_anywhere):
    a thread's older messages still come through the engine's own HTTP client on the
    engine's loop (from another loop, its connection pool and the store's writer
    crashed the app)."""
    from app.sync.client import RelayClient
    from app.ui.engine_host import ThreadedEngine

    relay, seed = live
    fetched_on: list[asyncio.AbstractEventLoop] = []
    original = RelayClient.older_messages

    async def spy(self: RelayClient, *args: object, **kwargs: object) -> object:
        fetched_on.append(asyncio.get_running_loop())
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RelayClient, "older_messages", spy)
    inner = fast_engine(tmp_path / "desk", relay.url, seed.staff_key, batch_size=LEADS)
    host = ThreadedEngine(inner, reads_anywhere=True)
    rec = Recorder()
    host.add_listener(rec)
    await host.start()
    try:
        await rec.wait_for(lambda: host.status().state is SyncState.ONLINE, timeout=30)
        newest = conversation_sid(LEADS - 1)
        thread = await host.thread(newest, limit=50)  # read here, on this test's loop
        older = await host.thread(newest, limit=50, before=thread[0].created_at)
        assert [m.body for m in older] == [f"message {n}" for n in range(30, 80)]
        bare = conversation_sid(1)  # opening: fetched in the background
        assert await host.thread(bare, limit=50) == []
        await rec.wait_for(lambda: any(
            isinstance(e, ChangesApplied) and bare in e.thread_sids for e in rec.events),
            timeout=30)
        assert [m.body for m in await host.thread(bare, limit=50)][-1] == "message 129"
        here = asyncio.get_running_loop()
        assert fetched_on and all(loop is host._loop and loop is not here for loop in fetched_on)
    finally:
        await host.stop()

"""A new PC at a big location (issue 19, point 3): sign-in → usable inbox.

    .venv/bin/python -m bench.relay.bootstrap [--leads 50000] [--messages 1000000]
        [--replay-cap 300] [--json out.json] [--dynamodb-endpoint URL]

Starts DynamoDB Local and seeds ONE location's history straight into the relay's
tables in batches (`bench/relay/history.py`: leads, their conversations and
messages spread evenly over them) and into its change log (one group item per
conversation: its lead, conversation and messages, as the relay's webhooks
group a call's changes), then starts two relay processes on those tables
(`python -m app.relay.cli serve`): one that bootstraps desktops from
`GET /v1/snapshot`, one with `W2T_SNAPSHOT_BOOTSTRAP=0` (the old full-feed
replay: the baseline). For each, a fresh `SyncEngine` (this process, its own
data folder) starts and the clock runs until the inbox is usable: the newest
lead is on the engine's first inbox page (`list_leads`) and its thread's newest
messages are on disk. Also timed: the snapshot bootstrap's end (every lead and
conversation stored), and one bare `GET /v1/snapshot` first page (the floor).
The replay is stopped at `--replay-cap` seconds (reported as "> cap").

Prints the figures and the machine's load (`os.getloadavg`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.relay.changes import ChangeLog
from app.relay.config import Settings
from app.relay.ddb import Tables
from app.relay.tables import CHANGE_LOG
from app.sandbox.servers import free_port
from app.sync.api import LeadFilter, SyncState
from app.sync.engine import SyncEngine
from bench.relay import history
from tests.support.dynamodb_local import dynamodb_local
from tests.support.relay import init_tables, seed_dealer

ROOT = Path(__file__).resolve().parents[2]
#: conversations per seeding thread's slice
_SLICE = 1000


def _seed_slice(settings: Settings, dealer: history.Dealer, leads: int, messages: int,
                first: int, count: int, now: datetime, base_seq: int) -> int:
    """Leads `first`..`first+count` of the history, and their change-log groups (lead
    i's at seq `base_seq + i`)."""
    tables = Tables.from_settings(settings)  # boto3 resources are not shared by threads
    per, extra = divmod(messages, leads)
    targets = {"lead": tables.leads, "conversation": tables.conversations,
               "message": tables.messages}
    writers = {kind: table.batch_writer() for kind, table in targets.items()}
    group: list[str] = []
    written = 0
    with contextlib.ExitStack() as stack, tables.table(CHANGE_LOG).batch_writer() as log:
        for writer in writers.values():
            stack.enter_context(writer)
        for i in range(first, first + count):
            submitted = now - history.LEAD_SPACING * (leads - i)
            n_msgs = per + (1 if i < extra else 0)
            start = submitted + history.MESSAGE_SPACING
            lead = history.lead_item(dealer, i, submitted)
            conv = history.conversation_item(
                dealer, i, start + history.MESSAGE_SPACING * max(n_msgs - 1, 0), max(n_msgs, 1))
            msgs = [history.message_item(dealer, i, n, start + history.MESSAGE_SPACING * n)
                    for n in range(n_msgs)]
            writers["lead"].put_item(Item=lead)
            writers["conversation"].put_item(Item=conv)
            for msg in msgs:
                writers["message"].put_item(Item=msg)
            group = [_log_change("lead", lead), _log_change("conversation", conv)]
            group += [_log_change("message", m) for m in msgs]
            log.put_item(Item={
                "LocationId": dealer.location_id, "Seq": base_seq + i, "Entity": "group",
                "Changes": "[" + ",".join(group) + "]",
                "At": int(submitted.timestamp() * 1000),
            })
            written += 3 + n_msgs
    return written


def _log_change(entity: str, item: dict[str, Any]) -> str:
    from app.relay import conversation_store, lead_store, message_store

    view = {"lead": lead_store.lead_view, "conversation": conversation_store.conversation_view,
            "message": message_store.message_view}[entity](item)
    ident = {"lead": "leadId", "conversation": "conversationSid", "message": "messageSid"}[entity]
    return json.dumps([entity, view[ident], 1, view], separators=(",", ":"), default=str)


def seed(settings: Settings, dealer: history.Dealer, leads: int, messages: int) -> float:
    """Seed in parallel slices; the seconds it took."""
    tables = Tables.from_settings(settings)
    base_seq = ChangeLog(tables.client, tables.name(CHANGE_LOG)).head(dealer.location_id) + 1
    now = datetime.now(UTC)
    started = time.monotonic()
    done = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(_seed_slice, settings, dealer, leads, messages, first,
                        min(_SLICE, leads - first), now, base_seq)
            for first in range(0, leads, _SLICE)
        ]
        for future in futures:
            done += future.result()
            print(f"  seeded {done:,} items ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
    return time.monotonic() - started


def _spawn_relay(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.relay.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the relay did not start")
        time.sleep(0.1)


@contextlib.contextmanager
def relays(endpoint: str, prefix: str) -> Iterator[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2T_")}
    env.update(
        AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1",
        W2T_DYNAMODB_ENDPOINT=endpoint, W2T_TABLE_PREFIX=prefix, W2T_ENVIRONMENT="bench",
        W2T_BACKGROUND="0", TWILIO_ACCOUNT_SID="AC" + "b" * 32, TWILIO_AUTH_TOKEN="bench",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "c" * 32, W2T_PUBLIC_URL="http://127.0.0.1:9",
        W2T_TWILIO_BASE_URL="http://127.0.0.1:9",
    )
    ports = free_port(), free_port()
    procs = [
        _spawn_relay(env, ports[0]),
        _spawn_relay(dict(env, W2T_SNAPSHOT_BOOTSTRAP="0"), ports[1]),
    ]
    try:
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for proc in procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()


async def sign_in(url: str, key: str, data_dir: Path, newest: tuple[str, str],
                  cap: float) -> dict[str, float | None]:
    """Seconds from `engine.start()` to a usable inbox, and to the end of the bootstrap
    (None: not within `cap`)."""
    lead_id, sid = newest
    engine = SyncEngine(data_dir, url, key)
    started = time.monotonic()
    usable: float | None = None
    online: float | None = None
    await engine.start()
    told = started
    try:
        while time.monotonic() - started < cap and (usable is None or online is None):
            if time.monotonic() - told > 5:
                told = time.monotonic()
                status = engine.status()
                top = [row.lead_id for row in await engine.list_leads(LeadFilter(), limit=3)]
                print(f"  {data_dir.name}: {told - started:.0f} s {status.state.value} "
                      f"{status.last_error or ''} top={top}", file=sys.stderr, flush=True)
            if usable is None and await _usable(engine, lead_id, sid):
                usable = time.monotonic() - started
            if online is None and engine.status().state is SyncState.ONLINE:
                online = time.monotonic() - started
            await asyncio.sleep(0.05)
    finally:
        await engine.stop()
    return {"usable_s": usable, "bootstrapped_s": online}


async def _usable(engine: SyncEngine, lead_id: str, sid: str) -> bool:
    rows = await engine.list_leads(LeadFilter(), limit=50)
    if lead_id not in {row.lead_id for row in rows}:
        return False
    return bool(await engine.db.reader.run(_has_messages, sid))


def _has_messages(conn: Any, sid: str) -> bool:
    row = conn.execute("SELECT 1 FROM messages WHERE conversation_sid = ? LIMIT 1", (sid,))
    return row.fetchone() is not None


def bare_request(url: str, key: str) -> float:
    started = time.monotonic()
    r = httpx.get(f"{url}/v1/snapshot", headers={"Authorization": f"Bearer {key}"},
                  params={"limit": 500}, timeout=120)
    r.raise_for_status()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--replay-cap", type=float, default=300.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dynamodb-endpoint", help="reuse a running DynamoDB Local")
    args = parser.parse_args(argv)
    for name, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    local = (contextlib.nullcontext(args.dynamodb_endpoint) if args.dynamodb_endpoint
             else dynamodb_local(heap_mb=4096))
    with local as endpoint, tempfile.TemporaryDirectory() as tmp:
        prefix = "TESTBOOT" + uuid.uuid4().hex[:6].upper()
        settings = init_tables(endpoint, prefix)
        dealer_seed = seed_dealer(settings, web2text_number="+13125550161")
        dealer = history.Dealer(dealer_seed.retailer_id, dealer_seed.location_id,
                                dealer_seed.web2text_number)
        seeded_s = seed(settings, dealer, args.leads, args.messages)
        newest = (history.lead_id(args.leads - 1), history.conversation_sid(args.leads - 1))
        with relays(endpoint, prefix) as (snapshot_url, replay_url):
            figures: dict[str, Any] = {
                "leads": args.leads, "messages": args.messages, "seed_s": round(seeded_s, 1),
                "bare_first_page_s": round(bare_request(snapshot_url, dealer_seed.staff_key), 3),
            }
            figures["snapshot"] = asyncio.run(sign_in(
                snapshot_url, dealer_seed.staff_key, Path(tmp) / "snap", newest, 600.0))
            figures["replay"] = asyncio.run(sign_in(
                replay_url, dealer_seed.staff_key, Path(tmp) / "replay", newest,
                args.replay_cap))
            figures["replay_cap_s"] = args.replay_cap
    figures["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A seeded demo saved once and restored on every start, in a moment.

Seeding through the real APIs (`seeding`) costs thousands of DynamoDB requests
into moto; a snapshot holds the result instead: the relay's tables as items
(read with Scan, written back with BatchWriteItem) and the simulator's
conversations, participants, messages and scoped webhooks (read and re-created
through its Twilio REST API, webhooks off, so nothing is processed twice). The
simulator hands out new SIDs, so the items are rewritten to them, and every time
in them moves to now (`retime`). Keys are never in a snapshot: each start issues
its own.

Snapshots live in the user's cache folder (or W2T_DEMO_SNAPSHOT_DIR), named by a
fingerprint of the code that made them and of the seed, so a change of the relay
or the simulator makes a new one; an installer ships one made by its build.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx

import app
from app.sandbox.demo import lead_systems_state, retime
from app.sandbox.demo.compact import fold_change_log
from app.sandbox.demo.handle import DemoHandle
from app.sandbox.demo.stack import TABLE_PREFIX, Stack

log = logging.getLogger("app.sandbox.demo")
FORMAT = 1
# Keys (only their hashes), idempotency and webhook-dedupe records and the abuse
# limits' counters belong to one start only (nobody repeats the seeded requests or
# webhooks, and seeding ran past the production limits on purpose).
SKIPPED_TABLES = ("APIKeys", "Idempotency", "WebhookEvents", "Limits")
# kept with each entity's last change only (`compact`)
CHANGE_LOG = "ChangeLog"
SOURCES = ("core", "relay", "sandbox")
WEBHOOKS_OFF = {"X-Twilio-Webhook-Enabled": "false"}


def fingerprint(seed: int, leads: int) -> str | None:
    """What a snapshot must have been made from: this code and this seed (None in a
    frozen build, which has no sources and trusts the snapshot its build made)."""
    root = Path(app.__file__).resolve().parent
    files = sorted(p for part in SOURCES for p in (root / part).rglob("*.py"))
    if not files:
        return None
    digest = hashlib.sha256(f"{FORMAT}:{app.__version__}:{seed}:{leads}".encode())
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _folders() -> list[Path]:
    env = os.environ.get("W2T_DEMO_SNAPSHOT_DIR")
    if env:
        return [Path(env)]
    from platformdirs import user_cache_dir

    folders = [Path(user_cache_dir("Web2Text", appauthor=False)) / "demo-snapshots"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        folders.append(Path(bundle) / "demo-snapshots")
    return folders


def snapshot_name(seed: int, leads: int) -> str:
    key = fingerprint(seed, leads) or f"frozen-{app.__version__}"
    return f"demo-{seed}-{leads}-{key}.json.gz"


def find(seed: int, leads: int) -> Path | None:
    """The snapshot for this code and seed, if one was made."""
    frozen = fingerprint(seed, leads) is None
    for folder in _folders():
        exact = folder / snapshot_name(seed, leads)
        if exact.exists():
            return exact
        if frozen:  # a build ships the one snapshot its own code made
            made = sorted(folder.glob(f"demo-{seed}-{leads}-*.json.gz"))
            if made:
                return made[-1]
    return None


def save(snapshot: dict[str, Any], seed: int, leads: int, folder: Path | None = None) -> Path:
    folder = folder or _folders()[0]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / snapshot_name(seed, leads)
    partial = path.with_suffix(".partial")
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=6) as out:
        json.dump(snapshot, out, separators=(",", ":"))
    partial.replace(path)  # a reader never sees half a file
    return path


def load(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        snapshot: dict[str, Any] = json.load(f)
    if snapshot.get("format") != FORMAT:
        raise ValueError(f"{path}: snapshot format {snapshot.get('format')}, not {FORMAT}")
    return snapshot


# ----------------------------------------------------------------- making one


def dump(stack: Stack, handle: DemoHandle, seed: int, leads: int) -> dict[str, Any]:
    """The seeded state of a quiet demo (before its live part starts)."""
    from app.relay.ddb import make_client

    ddb = make_client(stack.settings, stack.session)
    tables: dict[str, list[dict[str, Any]]] = {}
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page.get("TableNames", []):
            suffix = name.removeprefix(f"{TABLE_PREFIX}_Web2Text_")
            if name.startswith(f"{TABLE_PREFIX}_") and suffix not in SKIPPED_TABLES:
                items: list[dict[str, Any]] = []
                for scanned in ddb.get_paginator("scan").paginate(TableName=name):
                    items.extend(scanned.get("Items", []))
                tables[suffix] = fold_change_log(items) if suffix == CHANGE_LOG else items
    with _sim_client(stack) as sim:
        conversations = [_dump_conversation(sim, conv) for conv in _pages(sim, "/v1/Conversations")]
    return {
        "format": FORMAT,
        "app_version": app.__version__,
        "made_at": retime.now_epoch(),
        "relay_url": stack.relay_url,
        "seed": seed,
        "leads": leads,
        "messages_seeded": handle.stats.messages_seeded,
        "tables": tables,
        "conversations": conversations,
        "lead_systems": lead_systems_state.dump(stack.lead_systems),
        "tracks": [
            {
                "sid": t.conversation_sid,
                "customer": t.customer,
                "customer_proxy": t.customer_proxy,
                "store_number": t.store_number,
                "store_proxy": t.store_proxy,
                "lead_ids": [lead.lead_id for lead in t.leads],
                "texts_stop": t.texts_stop,
            }
            for t in handle.tracks.values()
        ],
    }


def _sim_client(stack: Stack) -> httpx.Client:
    sim = stack.sim
    return httpx.Client(
        base_url=sim.url, auth=(sim.account_sid, sim.auth_token), timeout=httpx.Timeout(20.0)
    )


def _pages(sim: httpx.Client, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = f"{path}?PageSize=1000"
    while url:
        resp = sim.get(url)
        resp.raise_for_status()
        body = resp.json()
        out.extend(body[body["meta"]["key"]])
        url = body["meta"].get("next_page_url")
    return out


def _dump_conversation(sim: httpx.Client, conv: dict[str, Any]) -> dict[str, Any]:
    base = f"/v1/Conversations/{conv['sid']}"
    return {
        "conversation": conv,
        "participants": _pages(sim, f"{base}/Participants"),
        "messages": sorted(_pages(sim, f"{base}/Messages"), key=lambda m: m["index"]),
        "webhooks": _pages(sim, f"{base}/Webhooks"),
    }

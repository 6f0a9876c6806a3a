"""The figures' data set on disk: a desktop store of a dealer group.

    .venv/bin/python -m bench.ui.dataset [--leads 50000] [--messages 1000000] [--locations 10]

Two sizes are measured: 10,000 leads and 200,000 messages (one location), and ten
times that, 50,000 leads and 1,000,000 messages over ten locations. One lead per
conversation; one conversation (`BIG_SID`, `BIG_LEAD`) holds 5,000 messages.

Written with direct SQLite inserts into the store's own schema (made by its
migrations), with the rows the mirror would write: leads, conversations and
locations through the mirror's own row builders (`app.sync.store.rows`) from the
wire views, messages in `MESSAGE_INSERT`'s column order. `tests/bench` checks that a
small set built this way equals the same set applied through the engine's mirror
(`app.sync.store.apply_changes`). Messages are inserted in the order they were sent,
as the feed would deliver them. Kept between runs under ~/.cache/web2text-bench
(a million messages take about a minute), one folder per size and schema revision.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.wire import ConversationView, LeadView
from app.sync import store
from app.sync.db import Database
from app.sync.inbox import DB_FILENAME, HEAD_REVISION
from app.sync.store.rows import (
    CONVERSATION_UPSERT,
    LEAD_UPSERT,
    MESSAGE_INSERT,
    conversation_params,
    lead_params,
)
from tests.sync.fake_relay import LOC, STAFF, conv_data, lead_data, msg_data, ts

BIG_SID = "CH0"
BIG_LEAD = "lead0"
WORDS = [
    "oak", "flooring", "stock", "price", "install", "carpet", "tile", "vinyl", "sample",
    "quote", "visit", "saturday", "delivery", "color", "plank", "measure", "warranty",
    "showroom", "tacoma", "financing", "trade",
]  # fmt: skip
#: seconds between two leads' first contact, and between two messages of a thread
LEAD_SPACING_S = 60.0
MESSAGE_SPACING_S = 1.0
#: rows per executemany (and per progress step)
CHUNK = 20_000


def location_ids(count: int) -> list[str]:
    """The group's locations; the first is the one the small set and the stand-in
    relay use."""
    return [LOC] + [f"L{i + 1}" for i in range(1, count)]


def location_views(count: int) -> list[dict[str, Any]]:
    return [
        {
            "locationId": loc,
            "retailerId": "R1",
            "name": "Downtown" if i == 0 else f"Store {i + 1:02d}",
            "web2textNumber": f"+1312555{100 + i:04d}",
            "version": 1,
        }
        for i, loc in enumerate(location_ids(count))
    ]


def cache_dir(leads: int, messages: int, big: int, locations: int = 1) -> Path:
    # per schema revision: a store of an older one would be migrated by the measured
    # app's first start (and the first page is read only from a current schema)
    where = "" if locations == 1 else f"-{locations}loc"
    name = f"ui2-{leads}-{messages}-{big}{where}-r{HEAD_REVISION}"
    return Path.home() / ".cache" / "web2text-bench" / name


def body(i: int) -> str:
    w = WORDS
    return f"Message {i}: {w[i % len(w)]} {w[(i * 7) % len(w)]} {w[(i * 13) % len(w)]} please?"


def thread_sizes(leads: int, messages: int, big: int) -> list[int]:
    """Messages per conversation: `big` in the first, the rest spread evenly."""
    others = max(1, leads - 1)
    per_conv, extra = divmod(max(0, messages - big), others)
    return [big] + [per_conv + (1 if i <= extra else 0) for i in range(1, leads)]


def lead_changes(i: int, count: int, loc: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Lead `i`'s conversation and lead, as the relay's views (JSON)."""
    sid, at = f"CH{i}", i * LEAD_SPACING_S
    last = at + max(0, count - 1) * MESSAGE_SPACING_S
    conv = conv_data(sid, unread=i % 3, at=last, location=loc)
    lead = lead_data(
        f"lead{i}", sid, name=f"Customer {i:05d}", phone=f"+1312{5550000 + i:07d}",
        at=at, pipeline=("new", "contacted", "engaged")[i % 3], location=loc,
    )  # fmt: skip
    return conv, lead


def message_data(i: int, j: int, n: int, loc: str) -> dict[str, Any]:
    """Message `j` of lead `i`'s conversation, the `n`th of the data set."""
    kind = "customer" if j % 2 == 0 else "staff"
    at = i * LEAD_SPACING_S + j * MESSAGE_SPACING_S
    return msg_data(f"IM{i}x{j}", f"CH{i}", body(n), kind=kind, at=at, location=loc)


def _message_row(i: int, j: int, n: int, loc: str) -> tuple[Any, ...]:
    """`message_data` as `MESSAGE_INSERT`'s values (what the mirror stores; see
    `MessageRow.insert_params`), without a model per message."""
    sid = f"IM{i}x{j}"
    customer = j % 2 == 0
    at = ts(i * LEAD_SPACING_S + j * MESSAGE_SPACING_S)
    return (
        sid, sid, None, f"CH{i}", loc, None, "+13125550134" if customer else "staff:S1",
        "customer" if customer else "staff", None, None, body(n), "delivered", None, None,
        at, 1, "[]",
    )  # fmt: skip


def _in_send_order(sizes: list[int], locs: list[str]) -> Iterator[tuple[Any, ...]]:
    """Every message's row, oldest first across conversations (as the feed delivers
    them: FTS rowids then follow time, which search relies on)."""
    import heapq

    numbers = [0] * len(sizes)  # body number of each thread's first message
    total = 0
    for i, count in enumerate(sizes):
        numbers[i], total = total, total + count
    heads = [(i * LEAD_SPACING_S, i, 0) for i, count in enumerate(sizes) if count]
    heapq.heapify(heads)
    while heads:
        _, i, j = heapq.heappop(heads)
        yield _message_row(i, j, numbers[i] + j, locs[i % len(locs)])
        if j + 1 < sizes[i]:
            heapq.heappush(heads, (i * LEAD_SPACING_S + (j + 1) * MESSAGE_SPACING_S, i, j + 1))


def _insert_entities(conn: sqlite3.Connection, sizes: list[int], locs: list[str]) -> None:
    convs, leads = [], []
    for i, count in enumerate(sizes):
        conv, lead = lead_changes(i, count, locs[i % len(locs)])
        convs.append(conversation_params(ConversationView.model_validate(conv), 1, conv))
        leads.append(lead_params(LeadView.model_validate(lead), 1, lead))
    conn.executemany(CONVERSATION_UPSERT, convs)
    conn.executemany(LEAD_UPSERT, leads)


def _insert_messages(conn: sqlite3.Connection, sizes: list[int], locs: list[str]) -> int:
    rows = _in_send_order(sizes, locs)
    done = 0
    while True:
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            return done
        conn.executemany(MESSAGE_INSERT, chunk)
        done += len(chunk)


def write(folder: Path, leads: int, messages: int, big: int, locations: int) -> int:
    """A store in `folder` (made by the store's migrations) filled with the data set;
    returns the number of messages written."""
    db = Database.open(folder)
    db.writer.call(store.save_me, {**STAFF, "locations": location_views(locations)})
    db.close()
    sizes, locs = thread_sizes(leads, messages, big), location_ids(locations)
    conn = sqlite3.connect(folder / DB_FILENAME, isolation_level=None)
    try:
        # a generated file: no crash or power cut to survive; WAL again once written
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-200000")
        conn.execute("BEGIN")
        _insert_entities(conn, sizes, locs)
        written = _insert_messages(conn, sizes, locs)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")  # (no ANALYZE: no store has one)
    finally:
        conn.close()
    return written


def build(
    leads: int = 10_000, messages: int = 200_000, big: int = 5_000, locations: int = 1
) -> Path:
    """The engine data folder (contains sync.db); built once, then reused. One build
    at a time per data set: a second run (another bench, another engineer's) waits for
    the first instead of removing the folder it is writing."""
    folder = cache_dir(leads, messages, big, locations)
    done = folder / "READY"
    if done.exists():
        return folder / "engine"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():  # not built by the run that held the lock
            _build(folder, leads, messages, big, locations)
    return folder / "engine"


def _build(folder: Path, leads: int, messages: int, big: int, locations: int) -> None:
    done = folder / "READY"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.monotonic()
    written = write(folder / "engine", leads, messages, big, locations)
    info = {
        "leads": leads,
        "messages": written,
        "locations": locations,
        "seconds": round(time.monotonic() - started, 1),
        "bytes": (folder / "engine" / DB_FILENAME).stat().st_size,
    }
    done.write_text(json.dumps(info))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--leads", type=int, default=10_000)
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--big", type=int, default=5_000)
    p.add_argument("--locations", type=int, default=1)
    a = p.parse_args()
    path = build(a.leads, a.messages, a.big, a.locations)
    print(path, (path.parent / "READY").read_text())


if __name__ == "__main__":
    main()

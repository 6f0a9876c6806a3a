"""The figures' data set on disk: a desktop store with 10,000 leads (one conversation
each) and 200,000 messages, one conversation holding 5,000 of them.

Written through the engine's own mirror code (`app.sync.store.apply_changes`, batches
of 2,000), exactly as the engine stores what it pulls; reused between runs (cached
under ~/.cache/web2text-bench) because building it takes a while.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from app.sync import store
from app.sync.db import Database
from app.sync.inbox import HEAD_REVISION
from tests.sync.fake_relay import LOC, STAFF, change, conv_data, lead_data, msg_data

BIG_SID = "CH0"
BIG_LEAD = "lead0"
WORDS = [
    "oak",
    "flooring",
    "stock",
    "price",
    "install",
    "carpet",
    "tile",
    "vinyl",
    "sample",
    "quote",
    "visit",
    "saturday",
    "delivery",
    "color",
    "plank",
    "measure",
    "warranty",
    "showroom",
    "tacoma",
    "financing",
    "trade",
]


def cache_dir(leads: int, messages: int, big: int) -> Path:
    # per schema revision: a store of an older one would be migrated by the measured
    # app's first start (and the first page is read only from a current schema)
    name = f"ui-{leads}-{messages}-{big}-r{HEAD_REVISION}"
    return Path.home() / ".cache" / "web2text-bench" / name


def _body(i: int) -> str:
    w = WORDS
    return f"Message {i}: {w[i % len(w)]} {w[(i * 7) % len(w)]} {w[(i * 13) % len(w)]} please?"


def build(
    leads: int = 10_000, messages: int = 200_000, big: int = 5_000, batch: int = 2_000
) -> Path:
    """The engine data folder (contains sync.db); built once, then reused."""
    folder = cache_dir(leads, messages, big)
    done = folder / "READY"
    if done.exists():
        return folder / "engine"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.monotonic()
    db = Database.open(folder / "engine")
    location = {
        "locationId": LOC,
        "retailerId": "R1",
        "name": "Downtown",
        "web2textNumber": "+13125550100",
        "version": 1,
    }
    db.writer.call(store.save_me, {**STAFF, "locations": [location]})
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            # the feed delivers decoded JSON: store what the engine would get
            db.writer.call(store.apply_changes, json.loads(json.dumps(pending)), None)
            pending.clear()

    others = max(1, leads - 1)
    per_conv, extra = divmod(messages - big, others)
    n_msg = 0
    for i in range(leads):
        sid, lead_id = f"CH{i}", f"lead{i}"
        count = big if i == 0 else per_conv + (1 if i <= extra else 0)
        at = i * 60.0
        pending.append(change("conversation", conv_data(sid, unread=i % 3, at=at + count)))
        pending.append(
            change(
                "lead",
                lead_data(
                    lead_id,
                    sid,
                    name=f"Customer {i:05d}",
                    phone=f"+1312{5550000 + i:07d}",
                    at=at,
                    pipeline=("new", "contacted", "engaged")[i % 3],
                ),
            )
        )
        for j in range(count):
            kind = "customer" if j % 2 == 0 else "staff"
            pending.append(
                change("message", msg_data(f"IM{i}x{j}", sid, _body(n_msg), kind=kind, at=at + j))
            )
            n_msg += 1
            if len(pending) >= batch:
                flush()
    flush()
    db.close()
    (folder / "READY").write_text(
        json.dumps(
            {"leads": leads, "messages": n_msg, "seconds": round(time.monotonic() - started, 1)}
        )
    )
    return folder / "engine"


if __name__ == "__main__":
    path = build()
    print(path, (path.parent / "READY").read_text())

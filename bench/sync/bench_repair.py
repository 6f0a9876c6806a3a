"""What surviving a damaged store costs, each figure with its baseline from the same run.

    .venv/bin/python -m bench.sync.bench_repair [--changes N] [--queued N]

1. The check at start after an unclean shutdown (`repair.check_integrity`: `PRAGMA
   quick_check`) on a store of N mirrored changes, versus reading the store file once
   (the I/O floor of any check that looks at every page).
2. A repair (`repair.repair_store`: salvage row by row past one damaged outbox page,
   rebuild with the queued rows, swap) versus copying the store file once.
3. The same with a page of the messages table damaged too: the queued sends' messages
   are then read one row at a time over the whole mirrored messages table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.sync import repair, store
from app.sync.db import Database
from app.sync.inbox import DB_FILENAME
from bench.sync.bench_store import ME, make_changes
from tests.sync.damage import checkpoint, overwrite_page, pages_of


def _build(data: Path, changes: int, queued: int) -> None:
    db = Database.open(data)
    try:
        batch = make_changes(changes)
        for k in range(0, len(batch), 500):
            db.writer.call(store.apply_changes, batch[k:k + 500], str(k))
        for i in range(queued):
            db.writer.call(store.enqueue_send, f"CH{i % 50}", f"queued {i} " + "x" * 80, ME)
    finally:
        db.close()
    checkpoint(data)


def _read_file(path: Path) -> float:
    t = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    return time.perf_counter() - t


def bench_check(data: Path) -> dict[str, Any]:
    db = Database.open(data)
    try:
        t = time.perf_counter()
        db.reader.call(repair.check_integrity)
        ours = time.perf_counter() - t
    finally:
        db.close()
    base = _read_file(data / DB_FILENAME)
    return {"figure": "quick_check at start vs reading the store file once",
            "store_mb": round((data / DB_FILENAME).stat().st_size / 2 ** 20, 1),
            "ours_s": round(ours, 3), "baseline_s": round(base, 3),
            "ratio": round(ours / base, 1)}


def bench_repair(data: Path, queued: int, messages_too: bool = False) -> dict[str, Any]:
    overwrite_page(data, pages_of(data, "outbox")[1])
    if messages_too:
        overwrite_page(data, pages_of(data, "messages")[-1], seed=7)
    t = time.perf_counter()
    shutil.copyfile(data / DB_FILENAME, data.parent / "copy.db")
    base = time.perf_counter() - t
    t = time.perf_counter()
    report = repair.repair_store(data, "bench", datetime.now(UTC))
    ours = time.perf_counter() - t
    what = "an outbox page and a messages page" if messages_too else "an outbox page"
    return {"figure": f"repair (salvage past {what} damaged, rebuild, swap) vs "
                      "copying the store file once",
            "queued": queued, "kept": len(report.saved), "unreadable": report.unreadable,
            "ours_s": round(ours, 3), "baseline_s": round(base, 3),
            "ratio": round(ours / base, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--queued", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        data = Path(tmp) / "store"
        _build(data, args.changes, args.queued)
        shutil.copytree(data, Path(tmp) / "again")
        results = [bench_check(data), bench_repair(data, args.queued),
                   bench_repair(Path(tmp) / "again", args.queued, messages_too=True)]
    print(json.dumps({"changes": args.changes, "results": results}, indent=2))


if __name__ == "__main__":
    main()

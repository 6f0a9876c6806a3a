"""The benches' generated store holds what the engine's mirror would have stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from app.sync import store
from app.sync.db import Database
from app.sync.inbox import DB_FILENAME
from bench.ui import dataset
from tests.sync.fake_relay import STAFF, change

LEADS, MESSAGES, BIG, LOCATIONS = 6, 41, 12, 3

TABLES = {
    "locations": "location_id",
    "leads": "lead_id",
    "conversations": "conversation_sid",
    "messages": "local_id",
}


def _through_the_mirror(folder: Path) -> None:
    """The same data set applied as the feed's changes by the engine's own code."""
    db = Database.open(folder)
    try:
        db.writer.call(store.save_me, {**STAFF, "locations": dataset.location_views(LOCATIONS)})
        sizes = dataset.thread_sizes(LEADS, MESSAGES, BIG)
        locs = dataset.location_ids(LOCATIONS)
        changes: list[dict[str, Any]] = []
        n = 0
        for i, count in enumerate(sizes):
            conv, lead = dataset.lead_changes(i, count, locs[i % LOCATIONS])
            changes += [change("conversation", conv), change("lead", lead)]
            for j in range(count):
                changes.append(
                    change("message", dataset.message_data(i, j, n + j, locs[i % LOCATIONS]))
                )
            n += count
        db.writer.call(store.apply_changes, json.loads(json.dumps(changes)), None)
    finally:
        db.close()


def _contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table, key in TABLES.items():
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] != "id"]
            out[table] = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}"
            ).fetchall()
        searchable = conn.execute(
            "SELECT m.local_id FROM messages_fts f JOIN messages m ON m.id = f.rowid "
            "WHERE messages_fts MATCH '\"warranty\"' ORDER BY m.local_id"
        ).fetchall()
        out["search"] = searchable
        return out
    finally:
        conn.close()


def test_generated_store_equals_what_the_mirror_stores(tmp_path: Path) -> None:
    written = dataset.write(tmp_path / "fast", LEADS, MESSAGES, BIG, LOCATIONS)
    _through_the_mirror(tmp_path / "mirror")

    fast = _contents(tmp_path / "fast" / DB_FILENAME)
    mirror = _contents(tmp_path / "mirror" / DB_FILENAME)
    assert written == MESSAGES
    assert len(fast["leads"]) == LEADS and len(fast["locations"]) == LOCATIONS
    assert fast["search"], "some generated bodies mention the word searched for"
    assert fast == mirror


def test_messages_go_in_in_the_order_they_were_sent(tmp_path: Path) -> None:
    dataset.write(tmp_path / "s", LEADS, MESSAGES, BIG, LOCATIONS)
    conn = sqlite3.connect(tmp_path / "s" / DB_FILENAME)
    try:
        times = [r[0] for r in conn.execute("SELECT created_at FROM messages ORDER BY id")]
    finally:
        conn.close()
    assert len(times) == MESSAGES
    assert times == sorted(times)

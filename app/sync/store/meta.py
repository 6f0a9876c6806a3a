"""The store's `meta` table: the feed cursor, the last sync time, `/v1/me`, the relay URL."""

from __future__ import annotations

import json
import sqlite3

from app.sync.api import Me
from app.sync.store.access import read_one, write_tx
from app.sync.store.rows import now_iso


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = read_one(conn, "SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row[0])


def put_meta(cur: sqlite3.Cursor, key: str, value: str) -> None:
    """Set a meta value inside the caller's write transaction."""
    cur.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    with write_tx(conn) as cur:
        put_meta(cur, key, value)


def put_cursor(cur: sqlite3.Cursor, cursor: str) -> None:
    """The feed position reached, stored in the transaction of the changes before it."""
    put_meta(cur, "cursor", cursor)
    put_meta(cur, "last_synced_at", now_iso())


def cursor_of(conn: sqlite3.Connection) -> str | None:
    return get_meta(conn, "cursor") or None


def put_me(cur: sqlite3.Cursor, me: Me) -> None:
    put_meta(cur, "me", json.dumps({
        "staffId": me.staff_id, "name": me.name, "retailerId": me.retailer_id,
        "locationIds": list(me.location_ids),
        "minAppVersion": me.min_app_version, "latestAppVersion": me.latest_app_version,
    }))


def get_me(conn: sqlite3.Connection) -> Me | None:
    raw = get_meta(conn, "me")
    if raw is None:
        return None
    d = json.loads(raw)
    return Me(
        staff_id=d["staffId"],
        name=d["name"],
        retailer_id=d["retailerId"],
        location_ids=tuple(d.get("locationIds", ())),
        min_app_version=d.get("minAppVersion"),
        latest_app_version=d.get("latestAppVersion"),
    )

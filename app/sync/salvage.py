"""Reading what can still be read from a damaged store: the outbox, row by row.

A damaged page makes every statement that touches it fail with "malformed". The
outbox is read in one pass while that works; from the first failure on, it is read
one row at a time, so the rows in pages that are intact all come out: by each key its
unique index lists (the index is a b-tree of its own, so the keys of rows in a damaged
table page are known, and counted when they cannot be read), or, when the index is
damaged too, in key order (`WHERE seq > ? ORDER BY seq LIMIT 1`), stepping over each
key whose read fails. The pending
messages are read the same way: a queued send is written twice (its outbox row and
its message, one ULID naming both), so a send whose outbox row is unreadable is
rebuilt from its message.

The file is opened read-only (`mode=ro`): the kept file and its WAL stay as they
were. Pure standard library; nothing here knows the outbox's kinds beyond a send's
message, so rows of newer kinds (and the files they name) are kept as they are.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: the outbox columns a salvaged row carries over (by name: any schema revision)
OUTBOX_FIELDS = ("outbox_id", "kind", "lane", "conversation_sid", "lead_id",
                 "idempotency_key", "payload", "state", "attempts", "reason",
                 "error_message", "created_at")
_REQUIRED = ("outbox_id", "kind", "lane", "idempotency_key", "payload")
#: the message columns of a queued send
MESSAGE_FIELDS = ("local_id", "idempotency_key", "conversation_sid", "body", "status",
                  "error_reason", "error_message", "created_at", "outbox_id")
#: meta values worth keeping (the cursor is not: the mirror is rebuilt from the start)
META_KEYS = ("relay_url", "me", "clock_offset")
#: consecutive unreadable keys after which the step grows (a damaged interior page can
#: cover a long range), and after which the rest is taken for unreadable
_SKIP_AFTER = 64
_GIVE_UP = _SKIP_AFTER + 40
#: keys read in one statement while no damage is met
_RANGE = 256


@dataclass
class Salvage:
    """What was read from a damaged store."""

    #: readable outbox rows (column -> value), in queue order
    outbox: list[dict[str, Any]] = field(default_factory=list)
    #: queued sends whose outbox row was unreadable, rebuilt from their message
    rebuilt: list[dict[str, Any]] = field(default_factory=list)
    #: outbox rows whose read failed (all of them when the outbox's index could list
    #: their keys; else those of the keys stepped over one by one)
    failed_reads: int = 0
    #: the outbox table could not be found or read at all
    outbox_unreadable: bool = False
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def unreadable(self) -> int:
        """Outbox rows lost: the failed reads not made up by a rebuilt send."""
        return max(0, self.failed_reads - len(self.rebuilt))

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row to queue again, in the order they were queued."""
        return sorted([*self.outbox, *self.rebuilt],
                      key=lambda r: (str(r.get("created_at") or ""), str(r["outbox_id"])))


def salvage(path: Path) -> Salvage:
    """Read the outbox, the queued sends' messages and a few meta values of `path`."""
    found = Salvage()
    try:
        conn = sqlite3.connect(Path(os.path.abspath(path)).as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        log.warning("the damaged store cannot be opened: %s", exc)
        found.outbox_unreadable = True
        return found
    with contextlib.closing(conn):
        columns = _columns(conn, "outbox")
        if not set(_REQUIRED) <= columns:
            found.outbox_unreadable = True
        else:
            rows, found.failed_reads = _read_rows(conn, "outbox", "seq",
                                                  _outbox_select(columns))
            found.outbox = [r for r in (_outbox_row(v) for v in rows) if r is not None]
        found.rebuilt = _rebuilt_sends(conn, {str(r["outbox_id"]) for r in found.outbox})
        found.meta = _meta(conn)
    return found


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    try:
        return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return set()


def _outbox_select(columns: set[str]) -> list[str]:
    return [c for c in OUTBOX_FIELDS if c in columns]


def _read_rows(conn: sqlite3.Connection, table: str, key: str, names: list[str],
               where: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """The readable rows of `table` (by its integer key) that match `where` (a column
    that is not NULL), and how many rows failed to read."""
    sql = f"SELECT {key}, {', '.join(names)} FROM {table}"
    try:
        filtered = sql + (f" WHERE {where} IS NOT NULL" if where else "")
        rows = conn.execute(filtered + f" ORDER BY {key}").fetchall()
        return [dict(zip(names, r[1:], strict=True)) for r in rows], 0
    except sqlite3.DatabaseError:
        pass  # some page is damaged: the rest around it
    keys = _indexed_keys(conn, table, key)
    if keys is not None:
        found = _rows_by_key(conn, sql, key, keys, where)
    else:
        # (unfiltered: a filtered seek would scan into the damaged page at every step)
        found = _rows_one_by_one(conn, sql + f" WHERE {key} > ? ORDER BY {key} LIMIT 1")
    kept: list[dict[str, Any]] = []
    failures = 0
    at = names.index(where) + 1 if where else 0
    for row in found:
        if row is None:
            failures += 1
        elif not where or row[at] is not None:
            kept.append(dict(zip(names, row[1:], strict=True)))
    return kept, failures


def _indexed_keys(conn: sqlite3.Connection, table: str, key: str) -> list[int] | None:
    """Every key of `table`, listed by one of its unique indexes (a separate b-tree that
    holds each row's key: read without the table's own pages), or None."""
    try:
        indexes = [str(r[0]) for r in conn.execute(
            'SELECT name FROM pragma_index_list(?) WHERE "unique" = 1', (table,))]
    except sqlite3.DatabaseError:
        return None
    for name in indexes:
        try:
            return sorted(int(r[0]) for r in conn.execute(
                f'SELECT {key} FROM {table} INDEXED BY "{name}"'))
        except sqlite3.DatabaseError:
            continue  # the index is damaged too
    return None


def _rows_by_key(conn: sqlite3.Connection, sql: str, key: str, keys: list[int],
                 where: str | None) -> Iterator[tuple[Any, ...] | None]:
    """The listed keys' rows, a range of keys at a time; a range that meets the damage
    is read key by key, with None for each key whose read failed."""
    ranged = sql + f" WHERE {key} BETWEEN ? AND ?" + (f" AND {where} IS NOT NULL" if where
                                                      else "") + f" ORDER BY {key}"
    single = sql + f" WHERE {key} = ?"
    for i in range(0, len(keys), _RANGE):
        chunk = keys[i:i + _RANGE]
        try:
            yield from conn.execute(ranged, (chunk[0], chunk[-1])).fetchall()
            continue
        except sqlite3.DatabaseError:
            pass
        for k in chunk:
            try:
                row = conn.execute(single, (k,)).fetchone()
            except sqlite3.DatabaseError:
                yield None
                continue
            if row is not None:
                yield row


def _rows_one_by_one(conn: sqlite3.Connection, sql: str) -> Iterator[tuple[Any, ...] | None]:
    """The rows in key order when no index lists the keys; None for each key whose read
    failed. Past a run of failures the step doubles (a lost interior page), and a long
    run is given up: the rest of the table is unreadable."""
    last, misses = 0, 0
    while misses < _GIVE_UP:
        try:
            row = conn.execute(sql, (last,)).fetchone()
        except sqlite3.DatabaseError:
            misses += 1
            last += 1 if misses <= _SKIP_AFTER else 2 ** min(misses - _SKIP_AFTER, 30)
            if misses <= _SKIP_AFTER:  # (the keys of a skipped stretch are not counted)
                yield None
            continue
        if row is None:
            return
        misses = 0
        last = int(row[0])
        yield row


def _outbox_row(values: dict[str, Any]) -> dict[str, Any] | None:
    """A row worth queueing again: its identity readable and its payload JSON."""
    if any(not values.get(c) for c in _REQUIRED):
        return None
    try:
        payload = json.loads(values["payload"])
    except (TypeError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    return values


def _rebuilt_sends(conn: sqlite3.Connection, known: set[str]) -> list[dict[str, Any]]:
    """Sends whose outbox row is gone but whose queued message is readable (with its
    photo, when the message names the staged copy)."""
    columns = _columns(conn, "messages")
    if not set(MESSAGE_FIELDS) <= columns:
        return []
    names = [*MESSAGE_FIELDS, *(["media"] if "media" in columns else [])]
    rows, _ = _read_rows(conn, "messages", "id", names, where="outbox_id")
    rebuilt = []
    for m in rows:
        outbox_id = m.get("outbox_id")
        attachment = _staged_photo(m.get("media"))
        if not outbox_id or outbox_id in known or m.get("status") not in (
                "pending", "failed_local") or not m.get("conversation_sid") or not (
                m.get("body") or attachment):
            continue
        key = m.get("idempotency_key") or m["local_id"]
        failed = m["status"] == "failed_local"
        payload: dict[str, Any] = {"body": m.get("body") or "", "localId": m["local_id"]}
        if attachment:
            payload["attachment"] = attachment
        rebuilt.append({
            "outbox_id": outbox_id, "kind": "send_message",
            "lane": "c:" + str(m["conversation_sid"]), "conversation_sid": m["conversation_sid"],
            "lead_id": None, "idempotency_key": key,
            "payload": json.dumps(payload),
            "state": "failed" if failed else "pending", "attempts": 0,
            "reason": m.get("error_reason") if failed else None,
            "error_message": m.get("error_message") if failed else None,
            "created_at": m.get("created_at"),
        })
    return rebuilt


def _staged_photo(media: Any) -> dict[str, Any] | None:
    """A queued message's photo as its outbox row names it (`attachment`), from the
    message's `media` (`localPath`: the copy staged in the data folder), or None."""
    try:
        items = json.loads(media) if media else []
    except (TypeError, ValueError):
        return None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("localPath") and item.get("contentType"):
            return {"path": str(item["localPath"]), "contentType": str(item["contentType"]),
                    "filename": str(item.get("filename") or "photo"),
                    "size": int(item.get("size") or 0)}
    return None


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    values: dict[str, str] = {}
    for key in META_KEYS:
        with contextlib.suppress(sqlite3.DatabaseError):
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] is not None:
                values[key] = str(row[0])
    return values

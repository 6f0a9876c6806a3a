"""How the store's jobs reach SQLite.

Every store function takes the `sqlite3.Connection` its `DbThread` hands over
(`app.sync.db`: autocommit mode, the store's pragmas), and reaches the database
one way per job:

- **writes** (mirror apply, outbox enqueue and delivery, meta): `write_tx`, one
  `BEGIN IMMEDIATE … COMMIT` with plain cursor calls inside;
- **reads** (queries, search, outbox listings): `read_rows`, one statement, its rows
  as named tuples (columns by position or by name), outside any transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

#: bound parameters per `IN (…)` list (SQLite allows 999 in older builds)
CHUNK = 900


@contextlib.contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
    """One `BEGIN IMMEDIATE … COMMIT`; rolled back on error."""
    if conn.in_transaction:
        conn.rollback()
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        yield cur
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    else:
        cur.execute("COMMIT")
    finally:
        cur.close()


@lru_cache(maxsize=256)
def _row_type(columns: tuple[str, ...]) -> Any:
    """A named tuple type for a query's columns (an unusable name becomes `_<n>`)."""
    return namedtuple("Row", columns, rename=True)


def read_rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows of one query (attribute access by column name)."""
    cur = conn.execute(sql, tuple(params))
    try:
        rows = cur.fetchall()
        if not rows:
            return []
        make = _row_type(tuple(d[0] for d in cur.description))._make
        return [make(r) for r in rows]
    finally:
        cur.close()


def read_one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of one query, or None."""
    rows = read_rows(conn, sql, params)
    return rows[0] if rows else None


def chunks(seq: Sequence[str], n: int = CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def marks(n: int) -> str:
    """`?, ?, …` for an `IN (…)` list of n values."""
    return ",".join("?" * n)

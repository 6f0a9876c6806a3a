"""How the store's jobs reach SQLite.

Every store function takes the SQLAlchemy `Connection` its `DbThread` hands
over (`app.sync.db`), and reaches the database one way per job:

- **writes** (mirror apply, outbox enqueue and delivery, meta): `write_tx`, one
  `BEGIN IMMEDIATE … COMMIT` on that connection's sqlite3 driver connection,
  with plain `sqlite3.Cursor` calls inside. Applying the feed and the durable
  enqueue are the store's hot paths, and SQLAlchemy's per-statement machinery
  cost more there than the statements themselves; the helpers the other writes
  share with them (local edit overlays) then take the same cursor.
- **reads** (queries, search, outbox listings): `read_rows`, SQLAlchemy's
  `exec_driver_sql`, ending the read transaction at once so that no old WAL
  snapshot stays pinned.

Same connection, same pragmas and durability either way (`app.sync.db` sets
them when the connection opens).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

#: bound parameters per `IN (…)` list (SQLite allows 999 in older builds)
CHUNK = 900


@contextlib.contextmanager
def write_tx(conn: sa.Connection) -> Iterator[sqlite3.Cursor]:
    """One `BEGIN IMMEDIATE … COMMIT` on the driver connection; rolled back on error."""
    if conn.in_transaction():
        conn.rollback()
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    cur = raw.cursor()
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


def read_rows(conn: sa.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows of one query (attribute access by column name), transaction ended."""
    rows = conn.exec_driver_sql(sql, tuple(params)).fetchall()
    if conn.in_transaction():
        conn.rollback()
    return list(rows)


def read_one(conn: sa.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of one query, or None."""
    rows = read_rows(conn, sql, params)
    return rows[0] if rows else None


def chunks(seq: Sequence[str], n: int = CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def marks(n: int) -> str:
    """`?, ?, …` for an `IN (…)` list of n values."""
    return ",".join("?" * n)

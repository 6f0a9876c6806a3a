"""Write the SQL dump of a store at an earlier schema revision, with sample rows.

    .venv/bin/python -m tests.sync.schemas.make_dump 0001 > tests/sync/schemas/0001.sql

Run once when a migration is added (for the revision *before* it); the dumps
are committed (never *.db files) and `test_migrations` upgrades each to head.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import tempfile
from pathlib import Path

from app.sync.db import migration_engine, upgrade

SAMPLE_ROWS = [
    """INSERT INTO meta VALUES ('cursor', 'c-41')""",
    """INSERT INTO locations VALUES ('L1', 'R1', 'Downtown', '+13125550100', NULL,
        'America/Chicago', 3, '{"locationId": "L1"}')""",
    """INSERT INTO leads (lead_id, retailer_id, location_id, conversation_sid, status,
        pipeline_status, assignee_id, assignee_name, name, phone, date_submitted,
        last_activity_at, first_staff_reply_at, possible_opt_out, opted_out, version, data)
        VALUES ('lead-old-1', 'R1', 'L1', 'CHold1', 'ACTIVE', 'contacted', NULL, NULL,
        'Olga Oldschema', '+13125550177', '2025-12-01T10:00:00+00:00',
        '2025-12-01T10:05:00+00:00', NULL, 0, 0, 4,
        '{"leadId": "lead-old-1", "locationId": "L1", "customer": {"name": "Olga Oldschema",
          "phone": "+13125550177"}, "dateSubmitted": "2025-12-01T10:00:00+00:00",
          "status": "ACTIVE", "version": 4}')""",
    """INSERT INTO conversations VALUES ('CHold1', 'L1', '+13125550177', '+13125550100',
        'active', 2, '2025-12-01T10:05:00+00:00', 'walnut please', 0, 5,
        '{"conversationSid": "CHold1"}')""",
    """INSERT INTO messages (local_id, message_sid, conversation_sid, location_id, author,
        author_kind, body, status, created_at, version) VALUES ('01OLD', 'IMold1', 'CHold1',
        'L1', '+13125550177', 'customer', 'Do you carry walnut parquet?', 'delivered',
        '2025-12-01T10:05:00+00:00', 2)""",
    """INSERT INTO outbox (outbox_id, kind, lane, conversation_sid, idempotency_key, payload,
        state, attempts, created_at) VALUES ('OB-old-1', 'send_message', 'c:CHold1', 'CHold1',
        'IK-old-1', '{"body": "We do!", "localId": "01OLDPENDING"}', 'inflight', 1,
        '2025-12-01T10:06:00+00:00')""",
    """INSERT INTO messages (local_id, idempotency_key, conversation_sid, author, author_kind,
        body, status, created_at, version, outbox_id) VALUES ('01OLDPENDING', 'IK-old-1',
        'CHold1', 'S1', 'staff', 'We do!', 'pending', '2025-12-01T10:06:00+00:00', 0,
        'OB-old-1')""",
]


def dump(revision: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sync.db"
        engine = migration_engine(path)
        with engine.connect() as conn:
            upgrade(conn, revision)
            with conn.begin():
                for sql in SAMPLE_ROWS:
                    conn.exec_driver_sql(sql)
        engine.dispose()
        raw = sqlite3.connect(path)
        try:
            return "\n".join(_replayable(raw)) + "\n"
        finally:
            raw.close()


def _replayable(raw: sqlite3.Connection) -> list[str]:
    """`iterdump()` with each FTS5 table as `CREATE VIRTUAL TABLE` + the rows it indexed.

    iterdump writes a virtual table by poking sqlite_master under writable_schema
    and inserting into the table and its shadow tables, which does not replay
    (the triggers of the next insert cannot see the table). An external-content
    index is written instead as its creation plus re-inserting, from its content
    table, exactly the rows it held (found through fts5vocab): the triggers of a
    revision may leave rows out of the index.
    """
    virtual = raw.execute(
        "SELECT name, sql FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%' "
        "ORDER BY name").fetchall()
    names = [name for name, _ in virtual]

    def is_fts_internal(statement: str) -> bool:
        return (statement.startswith(("PRAGMA writable_schema", "INSERT INTO sqlite_master"))
                or any(statement.startswith((f'INSERT INTO "{n}', f"CREATE TABLE '{n}_"))
                       for n in names))

    statements = [s for s in raw.iterdump() if not is_fts_internal(s)]
    if not any(s.startswith('INSERT INTO "sqlite_sequence"') for s in statements):
        # no AUTOINCREMENT table left (0005): a fresh file has no sqlite_sequence to clear
        statements = [s for s in statements if s != 'DELETE FROM "sqlite_sequence";']
    commit = statements.pop()
    assert commit == "COMMIT;", commit
    for name, sql in virtual:
        content = re.search(r"content='(\w+)'", sql)
        rowid = re.search(r"content_rowid='(\w+)'", sql)
        assert content and rowid, f"only external-content FTS5 tables are dumped: {name}"
        columns = [r[1] for r in raw.execute(f"PRAGMA table_info({name})")]
        raw.execute(f"CREATE VIRTUAL TABLE temp.{name}_vocab USING fts5vocab"
                    f"(main, {name}, instance)")
        indexed = [r[0] for r in raw.execute(
            f"SELECT DISTINCT doc FROM temp.{name}_vocab ORDER BY doc")]
        statements.append(sql + ";")
        if indexed:
            cols = ", ".join(columns)
            ids = ", ".join(str(i) for i in indexed)
            statements.append(
                f"INSERT INTO {name} (rowid, {cols}) SELECT {rowid.group(1)}, {cols} "
                f"FROM {content.group(1)} WHERE {rowid.group(1)} IN ({ids});")
    return [*statements, commit]


if __name__ == "__main__":
    sys.stdout.write(dump(sys.argv[1]))

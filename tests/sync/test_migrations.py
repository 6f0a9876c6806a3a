"""Alembic migrations from an empty file and from a saved store of every earlier schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from app.sync import store
from app.sync.api import LeadFilter
from app.sync.db import (
    Database,
    _alembic_config,
    current_revision,
    head_revision,
    migration_engine,
    upgrade,
)
from app.sync.inbox import HEAD_REVISION
from tests.sync.fake_relay import change, msg_data
from tests.sync.schemas.make_dump import dump

SCHEMAS = Path(__file__).with_name("schemas")


def _earlier_revisions() -> list[str]:
    script = ScriptDirectory.from_config(_alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]
    return [r for r in revisions if r != head_revision()]


def test_every_earlier_schema_has_a_saved_dump() -> None:
    missing = [r for r in _earlier_revisions() if not (SCHEMAS / f"{r}.sql").exists()]
    assert missing == [], f"add tests/sync/schemas/<rev>.sql with make_dump for {missing}"


@pytest.mark.parametrize("revision", _earlier_revisions())
def test_saved_dump_is_what_that_revision_creates(revision: str) -> None:
    # guards against a hand-edited fixture drifting from the migration it stands for
    assert (SCHEMAS / f"{revision}.sql").read_text() == dump(revision)


@pytest.mark.parametrize("revision", _earlier_revisions())
def test_upgrade_from_saved_store_keeps_data_and_indexes_it(tmp_path: Path,
                                                            revision: str) -> None:
    path = tmp_path / "sync.db"
    raw = sqlite3.connect(path)
    raw.executescript((SCHEMAS / f"{revision}.sql").read_text())
    raw.close()
    db = Database.open(tmp_path)
    try:
        assert db.writer.call(current_revision) == head_revision()
        detail = db.reader.call(store.get_lead, "lead-old-1")
        assert detail is not None and detail.pipeline_status == "contacted"
        assert db.reader.call(store.cursor_of) == "c-41"
        # the inbox order column (0004) is filled in for rows of the old store
        [row] = db.reader.call(store.list_leads, LeadFilter(), 0, 10, None)
        assert row.lead_id == "lead-old-1"
        assert row.last_activity_at.isoformat() == "2025-12-01T10:05:00+00:00"
        # rows written under the old schema are searchable after the FTS migration
        hits = db.reader.call(store.search, "walnut", 10)
        assert [h.message_sid for h in hits] == ["IMold1"]
        assert db.reader.call(store.search, "Oldschema", 10)[0].lead_id == "lead-old-1"
        # the unconfirmed staff message is found once, whether or not the old
        # schema had indexed it (0003 indexes a message only once it has a MessageSid)
        pending = db.reader.call(store.search, "do!", 10)
        assert [(h.message_sid, h.conversation_sid) for h in pending] == [(None, "CHold1")]
        assert db.reader.call(lambda c: c.execute(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"do!\"'"
        ).fetchone()[0]) == 0
        # the in-flight outbox row of the old store is still there and requeues
        assert db.writer.call(store.requeue_inflight) == 1
        assert db.reader.call(store.outbox_counts) == (1, 0)
    finally:
        db.close()


def test_empty_file_migrates_to_head(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    try:
        assert db.writer.call(current_revision) == head_revision()
        tables = {r[0] for r in db.reader.call(
            lambda c: c.execute("SELECT name FROM sqlite_master").fetchall())}
        assert {"leads", "messages", "outbox", "messages_fts", "leads_fts"} <= tables
    finally:
        db.close()


def test_a_store_at_this_schema_opens_and_serves_without_sqlalchemy(tmp_path: Path) -> None:
    """SQLAlchemy and Alembic are for migrating older stores only: a running engine on a
    current one never imports them (their import is most of an engine's start-up time
    and a sixth of the desktop's memory)."""
    import subprocess
    import sys

    Database.open(tmp_path).close()  # migrated to head here
    code = (
        "import sys; from pathlib import Path; from app.sync.db import Database, migrate; "
        "from app.sync import store; from app.sync.api import LeadFilter; "
        f"db = Database.open(Path({str(tmp_path)!r})); "
        "db.writer.call(migrate); db.reader.call(store.list_leads, LeadFilter(), 0, 10, None); "
        "db.writer.call(store.enqueue_send, 'CH1', 'hi', None); db.close(); "
        "print([m for m in ('sqlalchemy', 'alembic') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_head_constant_matches_the_migrations() -> None:
    assert head_revision() == HEAD_REVISION


def _structure(conn: sa.Connection) -> dict[str, Any]:
    """Tables, indexes, triggers and their columns, keys and flags: what a schema is,
    whatever its SQL text says (a rebuilt table's SQL is quoted differently)."""
    objects = conn.exec_driver_sql(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' "
        "ORDER BY type, name").fetchall()
    out: dict[str, Any] = {"objects": [tuple(o) for o in objects]}
    for kind, name, _table in objects:
        if kind == "table" and not name.startswith(("messages_fts", "leads_fts")):
            out[f"columns {name}"] = conn.exec_driver_sql(
                f"PRAGMA table_info({name})").fetchall()
            out[f"keys {name}"] = conn.exec_driver_sql(
                f"PRAGMA foreign_key_list({name})").fetchall()
            out[f"indexes {name}"] = sorted(
                (r[1], r[2], r[3], r[4]) for r in conn.exec_driver_sql(
                    f"PRAGMA index_list({name})").fetchall())
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (name,)).scalar()
            out[f"autoincrement {name}"] = "AUTOINCREMENT" in str(sql)
    return out


def _revisions_with_parent() -> list[tuple[str, str]]:
    script = ScriptDirectory.from_config(_alembic_config())
    return [(r.revision, str(r.down_revision)) for r in script.walk_revisions()
            if r.down_revision is not None]


@pytest.mark.parametrize(("revision", "parent"), _revisions_with_parent())
def test_downgrade_gives_back_the_parent_schema(tmp_path: Path, revision: str,
                                                parent: str) -> None:
    expected_engine = migration_engine(tmp_path / "expected.db")
    engine = migration_engine(tmp_path / "down.db")
    try:
        with expected_engine.connect() as conn:
            upgrade(conn, parent)
            expected = _structure(conn)
        with engine.connect() as conn:
            upgrade(conn, revision)
            command.downgrade(_alembic_config(conn), parent)
            conn.commit()
            assert current_revision(conn.connection.driver_connection) == parent
            assert _structure(conn) == expected
    finally:
        expected_engine.dispose()
        engine.dispose()


def test_lead_source_is_taken_from_the_old_stores_copy_of_each_lead(tmp_path: Path) -> None:
    # 0008: a texted-in lead of a store written before the column keeps its mark; a
    # lead whose copy names no source is a website lead (the relay's default)
    path = tmp_path / "sync.db"
    raw = sqlite3.connect(path)
    raw.executescript((SCHEMAS / "0007.sql").read_text())
    raw.execute(
        "INSERT INTO leads (lead_id, retailer_id, location_id, conversation_sid, status, "
        "pipeline_status, name, phone, date_submitted, last_activity_at, version, data) "
        "VALUES ('lead-old-2', 'R1', 'L1', NULL, 'ACTIVE', 'new', 'Tess Textedin', "
        "'+13125550178', '2025-12-01T11:00:00+00:00', '2025-12-01T11:00:00+00:00', 1, ?)",
        ('{"leadId": "lead-old-2", "source": "inbound_sms", "version": 1}',),
    )
    raw.commit()
    raw.close()
    db = Database.open(tmp_path)
    try:
        rows = db.reader.call(store.list_leads, LeadFilter(), 0, 10, None)
        assert {r.lead_id: r.source for r in rows} == {
            "lead-old-2": "inbound_sms", "lead-old-1": "web"}
        detail = db.reader.call(store.get_lead, "lead-old-1")
        assert detail is not None and detail.pipeline_status == "contacted"
    finally:
        db.close()


def test_lean_enqueue_rebuild_keeps_rows_both_ways(tmp_path: Path) -> None:
    # 0005 rebuilds the outbox and messages tables: every row, id and index entry
    # survives the upgrade and the downgrade, and search still finds them
    path = tmp_path / "sync.db"
    raw = sqlite3.connect(path)
    raw.executescript((SCHEMAS / "0004.sql").read_text())
    before = raw.execute("SELECT * FROM messages ORDER BY id").fetchall()
    outbox = raw.execute("SELECT * FROM outbox ORDER BY seq").fetchall()
    raw.close()
    # a message of ours is renamed to its idempotency key, and its send row with it
    renamed = {"01OLDPENDING": "IK-old-1"}
    after = [(m[0], renamed.get(m[1], m[1]), *m[2:]) for m in before]
    outbox_after = [(*o[:7], o[7].replace('"localId": "01OLDPENDING"', '"localId":"IK-old-1"')
                     .replace('{"body": "We do!", ', '{"body":"We do!",'), *o[8:])
                    for o in outbox]
    assert outbox_after != outbox
    engine = migration_engine(path)
    try:
        with engine.connect() as conn:
            upgrade(conn, "0005")
            assert conn.exec_driver_sql("SELECT * FROM messages ORDER BY id").fetchall() == after
            assert conn.exec_driver_sql(
                "SELECT * FROM outbox ORDER BY seq").fetchall() == outbox_after
            raw = conn.connection.driver_connection
            assert [h.message_sid for h in store.search(raw, "walnut", 10)] == ["IMold1"]
            assert [h.message_sid for h in store.search(raw, "do!", 10)] == [None]
            conn.rollback()
            command.downgrade(_alembic_config(conn), "0004")
            conn.commit()
            assert conn.exec_driver_sql("SELECT * FROM messages ORDER BY id").fetchall() == after
            assert conn.exec_driver_sql(
                "SELECT * FROM outbox ORDER BY seq").fetchall() == outbox_after
            # the old outbox's AUTOINCREMENT continues above the rows it holds
            assert conn.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").scalar() == max(
                    r[0] for r in outbox)
    finally:
        engine.dispose()


def test_queued_message_writes_few_btrees(tmp_path: Path) -> None:
    # The durable enqueue's cost is one page per b-tree it writes (WAL,
    # synchronous=FULL): the outbox row + its id index, the message row + its
    # local id and thread indexes. A new index on either table shows up here first.
    db = Database.open(tmp_path)
    try:
        wal = tmp_path / "sync.db-wal"

        def pages_of_one_enqueue() -> int:
            side = sqlite3.connect(tmp_path / "sync.db")
            try:
                assert side.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
            finally:
                side.close()
            assert wal.stat().st_size == 0
            db.writer.call(store.enqueue_send, "CH1", "hello", None)
            return (wal.stat().st_size - 32) // (4096 + 24)  # header, then frames

        pages_of_one_enqueue()  # the first message of a conversation splits nothing
        assert pages_of_one_enqueue() <= 5
    finally:
        db.close()


def test_migrated_own_message_is_matched_by_its_key(tmp_path: Path) -> None:
    # The relay's copy of a message queued under the old schema carries the key the
    # old store held; after 0005 it still lands on that message, not beside it.
    raw = sqlite3.connect(tmp_path / "sync.db")
    raw.executescript((SCHEMAS / "0004.sql").read_text())
    raw.close()
    db = Database.open(tmp_path)
    try:
        echo = msg_data("IMnew1", "CHold1", "We do!", kind="staff", key="IK-old-1", version=2)
        db.writer.call(store.apply_changes, [change("message", echo)], "c-42")
        rows = db.reader.call(lambda c: c.execute(
            "SELECT local_id, message_sid FROM messages WHERE body = 'We do!'").fetchall())
        assert rows == [("IK-old-1", "IMnew1")]
    finally:
        db.close()

"""Alembic migrations from an empty file and from a saved store of every earlier schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.sync import store
from app.sync.api import LeadFilter
from app.sync.db import (
    Database,
    _alembic_config,
    current_revision,
    head_revision,
)
from app.sync.inbox import HEAD_REVISION
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
        assert db.reader.call(lambda c: c.exec_driver_sql(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"do!\"'").scalar()) == 0
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
            lambda c: c.exec_driver_sql("SELECT name FROM sqlite_master").fetchall())}
        assert {"leads", "messages", "outbox", "messages_fts", "leads_fts"} <= tables
    finally:
        db.close()


def test_head_constant_matches_the_migrations() -> None:
    assert head_revision() == HEAD_REVISION

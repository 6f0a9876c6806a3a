"""`inbox.first_page`: the desktop's first frame read straight from the store, stdlib only."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from app.sync import inbox, store
from app.sync.api import LeadFilter
from app.sync.db import Database
from tests.sync.fake_relay import change, conv_data, lead_data


def _fill(db: Database) -> None:
    db.writer.call(store.apply_changes, [
        change("conversation", conv_data("CH1", unread=3, preview="see you at 5", at=50)),
        change("lead", lead_data("lead1", "CH1", at=10, name="Alice Smith")),
        change("lead", lead_data("lead2", None, at=20, name="Bob Jones")),
        change("lead", lead_data("lead3", None, at=30, name="Carl Closed", status="CLOSED")),
    ], "c1")


def test_first_page_is_what_the_engine_lists(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    try:
        _fill(db)
        expected = db.reader.call(store.list_leads, LeadFilter(), 0, 100, None)
        total = db.reader.call(store.count_leads, LeadFilter(), None)
    finally:
        db.close()
    page = inbox.first_page(tmp_path)
    assert page == (expected, total)
    rows, count = page
    assert [r.lead_id for r in rows] == ["lead1", "lead3", "lead2"] and count == 3
    assert rows[0].unread == 3 and rows[0].last_message_preview == "see you at 5"
    assert [r.lead_id for r in inbox.first_page(tmp_path, limit=1)[0]] == ["lead1"]  # type: ignore[index]


def test_first_page_while_the_engine_writes_and_never_writes_itself(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    try:
        _fill(db)
        before = (tmp_path / inbox.DB_FILENAME).stat().st_mtime_ns
        # a writer holds the write lock: readers in WAL mode still read
        def hold(conn):  # type: ignore[no-untyped-def]
            # (the store's writers take the lock up front, with BEGIN IMMEDIATE)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE meta SET value = value WHERE key = 'cursor'")
            page = inbox.first_page(tmp_path)
            conn.rollback()
            return page
        page = db.writer.call(hold)
        assert page is not None and len(page[0]) == 3
        assert (tmp_path / inbox.DB_FILENAME).stat().st_mtime_ns == before
    finally:
        db.close()


def test_no_store_another_schema_or_damage_is_none(tmp_path: Path) -> None:
    assert inbox.first_page(tmp_path / "nothing-here") is None
    Database.open(tmp_path / "old").close()
    raw = sqlite3.connect(tmp_path / "old" / inbox.DB_FILENAME)
    raw.execute("UPDATE alembic_version SET version_num = '0003'")  # not migrated yet
    raw.commit()
    raw.close()
    assert inbox.first_page(tmp_path / "old") is None
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / inbox.DB_FILENAME).write_bytes(b"not a database at all" * 100)
    assert inbox.first_page(tmp_path / "junk") is None


def test_reading_the_first_page_imports_neither_sqlalchemy_nor_httpx(tmp_path: Path) -> None:
    Database.open(tmp_path).close()
    code = ("import sys; from pathlib import Path; from app.sync import inbox; "
            f"assert inbox.first_page(Path({str(tmp_path)!r})) == ([], 0); "
            "heavy = [m for m in ('sqlalchemy', 'httpx', 'alembic', 'ulid') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])

"""Full-text search: FTS5 (trigram) over message bodies, lead names and phones.

Trigram tokens let a search for part of a phone number ("5550134") or of a
name match, which word tokenizers cannot do.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    """CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content='messages', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    """CREATE TRIGGER messages_fts_au AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE VIRTUAL TABLE leads_fts USING fts5(
        name, phone, content='leads', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER leads_fts_ai AFTER INSERT ON leads BEGIN
        INSERT INTO leads_fts (rowid, name, phone) VALUES (new.id, new.name, new.phone);
    END""",
    """CREATE TRIGGER leads_fts_ad AFTER DELETE ON leads BEGIN
        INSERT INTO leads_fts (leads_fts, rowid, name, phone)
            VALUES ('delete', old.id, old.name, old.phone);
    END""",
    """CREATE TRIGGER leads_fts_au AFTER UPDATE OF name, phone ON leads BEGIN
        INSERT INTO leads_fts (leads_fts, rowid, name, phone)
            VALUES ('delete', old.id, old.name, old.phone);
        INSERT INTO leads_fts (rowid, name, phone) VALUES (new.id, new.name, new.phone);
    END""",
    # rows mirrored under schema 0001 become searchable
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
    "INSERT INTO leads_fts (leads_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for name in ("messages_fts_ai", "messages_fts_ad", "messages_fts_au",
                 "leads_fts_ai", "leads_fts_ad", "leads_fts_au"):
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE messages_fts")
    op.execute("DROP TABLE leads_fts")

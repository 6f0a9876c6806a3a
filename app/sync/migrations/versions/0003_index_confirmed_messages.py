"""Index a message body once the relay has confirmed the message, not at enqueue.

A staff message is written locally (pending, no MessageSid) in the durable
enqueue transaction. Indexing it there made every enqueue flush a new FTS5
segment: the largest single cost of the enqueue. The few messages without a
MessageSid (queued, in flight, failed) are matched with LIKE at search time
instead (`store.search`), and the row enters the index in the transaction that
records its MessageSid, which happens anyway.

From here on the index deliberately lacks the rows without a MessageSid. Never
'rebuild' messages_fts (it would index them, and their confirmation would index
them twice): rebuild it with 'delete-all' and then
`INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages
WHERE message_sid IS NOT NULL`.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = [
    "DROP TRIGGER messages_fts_ai",
    "DROP TRIGGER messages_fts_ad",
    "DROP TRIGGER messages_fts_au",
    # before the new triggers: rows indexed under 0002 without a MessageSid leave
    """INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', id, body FROM messages WHERE message_sid IS NULL""",
    """CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages
        WHEN new.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TRIGGER messages_fts_confirmed AFTER UPDATE OF message_sid ON messages
        WHEN old.message_sid IS NULL AND new.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
        WHEN old.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    """CREATE TRIGGER messages_fts_au AFTER UPDATE OF body ON messages
        WHEN old.message_sid IS NOT NULL BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END""",
]

DOWNGRADE = [
    "DROP TRIGGER messages_fts_ai",
    "DROP TRIGGER messages_fts_confirmed",
    "DROP TRIGGER messages_fts_ad",
    "DROP TRIGGER messages_fts_au",
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
    """INSERT INTO messages_fts (rowid, body)
        SELECT id, body FROM messages WHERE message_sid IS NULL""",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)

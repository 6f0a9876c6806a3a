"""A lean durable enqueue: the outbox and messages tables rebuilt with fewer b-trees
written per queued message.

With WAL and `synchronous=FULL` a commit costs about one written page per b-tree
it touches, so the enqueue's cost was mostly its indexes: queuing a message
wrote 12 pages (the outbox row, its 2 unique indexes, its lane index and
`sqlite_sequence`; the message row, its 3 unique indexes, its thread index and
its outbox index) against 2 for a plain one-row insert. Now it writes 5:

- outbox: `seq` is a plain rowid (AUTOINCREMENT wrote `sqlite_sequence` on every
  insert; rows only need to be ordered among the rows present, and a new rowid
  is always above every present one); the idempotency key loses its UNIQUE index
  (it is a fresh ULID, never looked up); the lane index goes: the table holds
  only undelivered rows, so `due_heads` reads it whole in one pass.
- messages: the MessageSid index becomes a partial unique index over the rows
  that have one (a queued message has none yet, so it skips that index); the
  idempotency key loses its index: a message of ours now has its idempotency key
  as its local id (`store.enqueue_send` gives the message, its outbox row and the
  key one ULID; this migration renames the local ids of older ones, and their
  send rows' `localId`), so the local id's unique index finds it by key. The
  foreign key to the outbox and its index go: the code that deletes an outbox
  row updates or deletes its message itself, by `local_id`. Unconfirmed
  messages are found through the outbox (`inbox.unconfirmed_match`).

The FTS triggers of messages (0003) are kept as they were: their SQL is read
before the old table is dropped and run again on the new one. Row ids are
copied, so messages_fts keeps pointing at the same rows.

Revision ID: 0005
Revises: 0004
"""

import importlib

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OUTBOX = """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        outbox_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        lane TEXT NOT NULL,
        conversation_sid TEXT,
        lead_id TEXT,
        idempotency_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'inflight', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        reason TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL
    )"""

MESSAGES = """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        local_id TEXT NOT NULL UNIQUE,
        message_sid TEXT,
        idempotency_key TEXT,
        conversation_sid TEXT NOT NULL,
        location_id TEXT,
        idx INTEGER,
        author TEXT NOT NULL,
        author_kind TEXT NOT NULL,
        staff_id TEXT,
        staff_name TEXT,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        error_code INTEGER,
        error_reason TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        outbox_id TEXT
    )"""

MESSAGE_INDEXES = [
    "CREATE UNIQUE INDEX ux_messages_sid ON messages (message_sid) "
    "WHERE message_sid IS NOT NULL",
    "CREATE INDEX ix_messages_thread ON messages (conversation_sid, created_at)",
]

#: a message of ours is known by its idempotency key from here on (see above)
OWN_MESSAGES_BY_KEY = [
    # the outbox first: it finds each send's message by the local id it had
    """UPDATE outbox SET payload = json_set(payload, '$.localId', idempotency_key)
        WHERE kind = 'send_message' AND EXISTS (SELECT 1 FROM messages m
            WHERE m.local_id = json_extract(outbox.payload, '$.localId')
            AND m.idempotency_key = outbox.idempotency_key)""",
    "UPDATE messages SET local_id = idempotency_key WHERE idempotency_key IS NOT NULL",
]

#: the same columns in both schemas, in table order
_OUTBOX_COLUMNS = (
    "seq, outbox_id, kind, lane, conversation_sid, lead_id, idempotency_key, payload, state, "
    "attempts, next_attempt_at, last_error, reason, error_message, created_at"
)
_MESSAGE_COLUMNS = (
    "id, local_id, message_sid, idempotency_key, conversation_sid, location_id, idx, author, "
    "author_kind, staff_id, staff_name, body, status, error_code, error_reason, "
    "error_message, created_at, version, outbox_id"
)


def _rebuild(table: str, create: str, columns: str, indexes: list[str]) -> None:
    """SQLite's table rebuild (create new, copy, drop, rename), keeping the table's
    triggers. Runs inside the migration's transaction: all or nothing."""
    bind = op.get_bind()
    triggers = [
        row[0]
        for row in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
            (table,),
        )
    ]
    op.execute(create.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_rebuilt (", 1))
    op.execute(f"INSERT INTO {table}_rebuilt ({columns}) SELECT {columns} FROM {table}")
    # dropped first, so that no trigger of the old table sees its rows go
    for (name,) in bind.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall():
        op.execute(f"DROP TRIGGER {name}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    for statement in [*indexes, *triggers]:
        op.execute(statement)


def upgrade() -> None:
    # messages first: once it no longer references the outbox, dropping the old
    # outbox cannot set any message's outbox_id to NULL (ON DELETE SET NULL)
    _rebuild("messages", MESSAGES, _MESSAGE_COLUMNS, MESSAGE_INDEXES)
    _rebuild("outbox", OUTBOX, _OUTBOX_COLUMNS, [])
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
    for statement in OWN_MESSAGES_BY_KEY:
        op.execute(statement)


def _initial_statement(prefix: str) -> str:
    # the 0001 definitions are the ones to go back to (one copy of them)
    initial = importlib.import_module("app.sync.migrations.versions.0001_initial")
    [statement] = [s for s in initial.STATEMENTS if s.startswith(prefix)]
    return str(statement)


def downgrade() -> None:
    _rebuild(
        "outbox",
        _initial_statement("CREATE TABLE outbox ("),
        _OUTBOX_COLUMNS,
        [_initial_statement("CREATE INDEX ix_outbox_lane")],
    )
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', coalesce(max(seq), 0) FROM outbox"
    )
    _rebuild(
        "messages",
        _initial_statement("CREATE TABLE messages ("),
        _MESSAGE_COLUMNS,
        [
            _initial_statement("CREATE INDEX ix_messages_thread"),
            _initial_statement("CREATE INDEX ix_messages_outbox"),
        ],
    )

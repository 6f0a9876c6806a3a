"""Initial local store: mirror tables, outbox, meta.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Integer primary keys on leads and messages: the FTS5 index (0002) is an
# external-content index keyed by rowid, and only an INTEGER PRIMARY KEY rowid
# survives VACUUM unchanged.
STATEMENTS = [
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE locations (
        location_id TEXT PRIMARY KEY,
        retailer_id TEXT NOT NULL,
        name TEXT NOT NULL,
        web2text_number TEXT NOT NULL,
        store_number TEXT,
        timezone TEXT,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE leads (
        id INTEGER PRIMARY KEY,
        lead_id TEXT NOT NULL UNIQUE,
        retailer_id TEXT NOT NULL,
        location_id TEXT NOT NULL,
        conversation_sid TEXT,
        status TEXT NOT NULL,
        pipeline_status TEXT NOT NULL,
        assignee_id TEXT,
        assignee_name TEXT,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        date_submitted TEXT NOT NULL,
        last_activity_at TEXT NOT NULL,
        first_staff_reply_at TEXT,
        possible_opt_out INTEGER NOT NULL DEFAULT 0,
        opted_out INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX ix_leads_location_activity ON leads (location_id, last_activity_at)",
    "CREATE INDEX ix_leads_activity ON leads (last_activity_at)",
    "CREATE INDEX ix_leads_conversation ON leads (conversation_sid)",
    """CREATE TABLE conversations (
        conversation_sid TEXT PRIMARY KEY,
        location_id TEXT NOT NULL,
        customer_phone TEXT NOT NULL,
        web2text_number TEXT NOT NULL,
        state TEXT NOT NULL,
        unread_count INTEGER NOT NULL DEFAULT 0,
        last_message_at TEXT,
        last_message_preview TEXT,
        opted_out INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX ix_conversations_location ON conversations (location_id)",
    """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        outbox_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        lane TEXT NOT NULL,
        conversation_sid TEXT,
        lead_id TEXT,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'inflight', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        reason TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX ix_outbox_lane ON outbox (lane, state, seq)",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        local_id TEXT NOT NULL UNIQUE,
        message_sid TEXT UNIQUE,
        idempotency_key TEXT UNIQUE,
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
        outbox_id TEXT REFERENCES outbox (outbox_id) ON DELETE SET NULL
    )""",
    "CREATE INDEX ix_messages_thread ON messages (conversation_sid, created_at)",
    "CREATE INDEX ix_messages_outbox ON messages (outbox_id)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("messages", "outbox", "conversations", "leads", "locations", "meta"):
        op.execute(f"DROP TABLE {table}")

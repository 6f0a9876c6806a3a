"""The location list's counts from indexes alone.

The location switcher shows, per location, its unread texts, its conversations
with unread texts and its open leads (`store.list_locations`). Each count was a
search of an index on `location_id` followed by a read of every matching table
row (whose JSON copy of the relay's view makes it wide), so a dealer group's
store spent most of a second on it, on the reader thread, after every burst of
changes, with thread opens and searches queued behind. With the counted columns
in the indexes each count reads only index pages.

`ix_conversations_location` becomes `(location_id, unread_count)` (it serves
every lookup by location as before); leads gain `(location_id, status)`.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = [
    "DROP INDEX ix_conversations_location",
    "CREATE INDEX ix_conversations_location ON conversations (location_id, unread_count)",
    "CREATE INDEX ix_leads_location_status ON leads (location_id, status)",
]

DOWNGRADE = [
    "DROP INDEX ix_leads_location_status",
    "DROP INDEX ix_conversations_location",
    "CREATE INDEX ix_conversations_location ON conversations (location_id)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)

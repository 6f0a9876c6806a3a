"""Photos of messages: `messages.media`, the JSON list of a message's photos
(`[{"sid", "contentType", "filename", "size"}]`, and `localPath` on an attachment
written here and not sent yet).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE messages ADD COLUMN media TEXT NOT NULL DEFAULT '[]'")


def downgrade() -> None:
    op.execute("ALTER TABLE messages DROP COLUMN media")

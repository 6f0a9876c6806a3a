"""Where a lead came from: `leads.source`, the relay's `LeadView.source` ("web" the
website form, "inbound_sms" a customer who texted in, "staff" made on the desktop),
so the inbox can mark a texted-in lead without parsing every row's JSON copy.
Rows of an older store take it from that copy (a copy without one is "web", the
relay's default).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE leads ADD COLUMN source TEXT NOT NULL DEFAULT 'web'")
    op.execute(
        "UPDATE leads SET source = coalesce(json_extract(data, '$.source'), 'web') "
        "WHERE json_valid(data)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE leads DROP COLUMN source")

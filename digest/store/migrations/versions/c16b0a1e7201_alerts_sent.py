"""alerts sent: at most one mail per alert condition per day

Revision ID: c16b0a1e7201
Revises: c16a1e57a101
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c16b0a1e7201"
down_revision = "c16a1e57a101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts_sent",
        sa.Column("condition", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("condition", "day"),
    )


def downgrade() -> None:
    op.drop_table("alerts_sent")

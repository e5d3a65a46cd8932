"""bounce scores and reply windows

Revision ID: b17e0a3c9d42
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b17e0a3c9d42"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bounce_scores",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("last_bounce_on", sa.Date(), nullable=False),
        sa.Column("last_reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id"),
    )
    op.create_table(
        "reply_windows",
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("email_key"),
    )


def downgrade() -> None:
    op.drop_table("reply_windows")
    op.drop_table("bounce_scores")

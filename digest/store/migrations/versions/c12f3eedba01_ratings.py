"""ratings: a reader's up/down on a paper

Revision ID: c12f3eedba01
Revises: c16b0a1e7201
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c12f3eedba01"
down_revision = "c16b0a1e7201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscriber_id", "paper_id", name="uq_rating_subscriber_paper"),
    )
    op.create_index("ix_ratings_subscriber_id", "ratings", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_ratings_subscriber_id", table_name="ratings")
    op.drop_table("ratings")

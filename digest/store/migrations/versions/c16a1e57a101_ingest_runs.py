"""ingest runs: one row per source per ingest, errors included

Revision ID: c16a1e57a101
Revises: b17e0a3c9d42
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c16a1e57a101"
down_revision = "b17e0a3c9d42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("parsed", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ingest_runs_source_started", "ingest_runs", ["source", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_ingest_runs_source_started", table_name="ingest_runs")
    op.drop_table("ingest_runs")

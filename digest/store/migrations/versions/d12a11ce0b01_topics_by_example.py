"""topics by example

A topic may be given as papers the reader likes (`like = [...]` in a profile): their ids or
titles, one a line.

Revision ID: d12a11ce0b01
Revises: c13e0d1e5b01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d12a11ce0b01"
down_revision = "c13e0d1e5b01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("like_papers", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("like_papers")

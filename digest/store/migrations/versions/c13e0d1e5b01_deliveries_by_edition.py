"""deliveries by edition

The ledger is read by edition: claiming a page of one edition, counting an edition's states for
`digest stats`, listing who was left alone. Without this index each of those scans the table.

Revision ID: c13e0d1e5b01
Revises: c12f3eedba01
"""

from __future__ import annotations

from alembic import op

revision = "c13e0d1e5b01"
down_revision = "c12f3eedba01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_edition_status", "deliveries", ["edition", "status"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_edition_status", table_name="deliveries")

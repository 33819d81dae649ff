"""The recompute queue: subjects whose records changed in a bulk import and whose grades and restrictions are
not recomputed yet (store.pending).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recompute_queue",
        sa.Column("subject_id", sa.BigInteger, sa.ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )


def downgrade() -> None:
    op.drop_table("recompute_queue")

"""Failed authentication attempts, counted per client id, user name and address (store.auth_failures).

The built-in authorization server throttles guessing of client secrets and employer passwords; the counts
live here rather than in a process's memory so that every API process enforces the same limit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("key", sa.Text(collation="C"), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_auth_failures")),
        sa.CheckConstraint("kind IN ('client', 'user', 'addr')", name=op.f("ck_auth_failures_kind")),
        sa.CheckConstraint("failures > 0", name=op.f("ck_auth_failures_failures")),
    )
    op.create_index("ix_auth_failures_window_ends_at", "auth_failures", ["window_ends_at"])


def downgrade() -> None:
    op.drop_table("auth_failures")

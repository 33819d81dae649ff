"""Outbox look-up by (topic, aggregate): the overdue-objection report joins on it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_topic_aggregate", "outbox", ["topic", "aggregate_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_topic_aggregate", table_name="outbox")

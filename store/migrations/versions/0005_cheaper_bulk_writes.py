"""Cheaper rows for a bulk import's writes, with the same guarantees.

- The outbox's index on (topic, aggregate_id) served one look-up only: the ``objection.decided`` event of an
  objection (store.objections). It becomes a partial index on aggregate_id for that topic, so the one
  ``record.created`` event an imported record writes no longer pays for it.
- The recompute queue loses its foreign key to subjects: every subject id it holds was just written or read in
  the same transaction, subjects are never deleted, and a queued id without a subject would only be skipped by
  the recomputation. The key's check cost more than the queue row itself.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DECIDED = sa.text("topic = 'objection.decided'")


def upgrade() -> None:
    op.create_index("ix_outbox_objection_decided", "outbox", ["aggregate_id"], postgresql_where=DECIDED)
    op.drop_index("ix_outbox_topic_aggregate", table_name="outbox")
    op.drop_constraint("fk_recompute_queue_subject_id_subjects", "recompute_queue", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key(
        "fk_recompute_queue_subject_id_subjects",
        "recompute_queue",
        "subjects",
        ["subject_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_outbox_topic_aggregate", "outbox", ["topic", "aggregate_id"])
    op.drop_index("ix_outbox_objection_decided", table_name="outbox")

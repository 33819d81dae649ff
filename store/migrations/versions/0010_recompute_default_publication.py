"""Recompute the subjects whose restrictions follow the publication and listing terms.

A dishonesty record sent without a publicity window is now published for the longest window the national rule
allows (domain.publicity.publication_end), SH art. 8(2)3 reaches serious dishonesty while it is in force, and the
wage-arrears list's joint punishment runs for the listing's own term under SC 724 art. 48. Records are immutable,
so nothing of them changes: publication is derived when read. What is materialized, the restriction intervals of
the subjects with a listing or serious dishonesty, is queued for recomputation (store.pending): every reader
settles a queued subject before it reads, and every API process drains the queue.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO recompute_queue (subject_id)
        SELECT DISTINCT subject_id FROM credit_records
        WHERE superseded_by_id IS NULL
          AND category = 'DISHONESTY'
          AND (type = 'WAGE_ARREARS_BLACKLIST' OR severity = 'SERIOUS')
        ON CONFLICT (subject_id) DO NOTHING
        """
    )


def downgrade() -> None:
    # The queue holds work, not state: recomputing under the older rules is what a downgrade's own code does.
    pass

"""Index an audit entry's subjects once it is sealed, not when it is appended.

Sealing sets ``prev_hash`` and ``hash``, and the partial index of the unsealed tail (``WHERE hash IS NULL``)
names ``hash`` in its predicate, so the sealer's UPDATE is never a HOT update: the sealed version of an entry
gets index entries of its own in every index of the table. A GIN index on ``subject_ids`` over all versions thus
took a screen's thousand keys twice, once from the request's INSERT and once from the sealer's UPDATE, and the
request's copy could make it merge the index's pending list inline when that list was full.

Indexed only where ``hash IS NOT NULL``, the keys go in once, from the sealer, off the request path: an append
touches no GIN index at all, and an inline merge, should the list fill up, runs in the sealer's statement. The
sealed entries are what the auditor's filter reads anyway; the employer's access log reads the unsealed tail
(seconds of entries while the sealer keeps up) through the partial index of the tail (store.access_log).

The new index is built CONCURRENTLY under a temporary name before the old one is dropped, so the access log is
served by one of them throughout.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INDEX = "ix_audit_log_subject_ids"
BUILDING = "ix_audit_log_subject_ids_sealed"
OPTIONS = "fastupdate = on, gin_pending_list_limit = 32768"


def _replace(where: str) -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}")  # left INVALID by an interrupted build
        op.execute(f"CREATE INDEX CONCURRENTLY {BUILDING} ON audit_log USING gin (subject_ids) WITH ({OPTIONS}){where}")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(f"ALTER INDEX {BUILDING} RENAME TO {INDEX}")


def upgrade() -> None:
    _replace(" WHERE hash IS NOT NULL")


def downgrade() -> None:
    _replace("")

"""Compress the subject ids of new audit entries with lz4 where the server has it.

A screen's entry lists up to a thousand subject ids, a value PostgreSQL compresses when it stores it. With the
default method (pglz) that compression was most of the cost of writing the entry; lz4 compresses the same
arrays several times faster, at a somewhat larger size. Rows already written keep their compression, and a
server built without lz4 (the embedded one) keeps pglz: the column setting changes only where the server lists
lz4 among its methods.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


_UPGRADE = """
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE audit_log ALTER COLUMN subject_ids SET COMPRESSION lz4;
      END IF;
    END
    $$
"""


def upgrade() -> None:
    op.execute(_UPGRADE)


def downgrade() -> None:
    op.execute("ALTER TABLE audit_log ALTER COLUMN subject_ids SET COMPRESSION DEFAULT")

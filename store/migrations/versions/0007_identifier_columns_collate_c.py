"""Identifier columns compared byte by byte (``COLLATE "C"``): a USCC, a source unit and a decision number.

They are codes and names that are only ever matched exactly (their unique keys, the import's look-ups), never
sorted for a reader. Under the database's default collation every comparison in their indexes went through
the C library's locale functions (``strcoll``), and the order of those indexes depended on the operating
system's locale data: a C library update that changes a collation (as glibc 2.28 did) silently corrupts such
an index. Under "C" a comparison is a ``memcmp`` and the order is that of the UTF-8 bytes (for Chinese text,
the order of the code points), whatever the machine. Equality is the same under both: the collations are
deterministic, and a byte comparison is the cheaper one in the import's look-ups of (source unit, decision
number) keys.

The indexes on these columns are rebuilt, under the lock ALTER TABLE takes (its length grows with the number of
records); the tables are not rewritten (the type stays text).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = (("subjects", "uscc"), ("credit_records", "source_unit"), ("credit_records", "decision_number"))


def _collate(collation: str) -> None:
    for table in sorted({t for t, _ in _COLUMNS}):
        changes = ", ".join(f"ALTER COLUMN {c} TYPE text COLLATE {collation}" for t, c in _COLUMNS if t == table)
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')

"""The audit entry of a request that issued a signed screening receipt names the receipt's id, under the seal.

``receipt_id`` is the ``jti`` of the receipt (services.receipts): with it, the entry in the log proves that the
register issued that receipt, when, to which audience and for what purpose. The column is part of the entry's
content, so the sealer may not change it and the chain covers it: ``audit_entry_digest`` appends it to what it
hashes, but only when it is set, so that every entry sealed before this migration (none has a receipt) keeps the
hash it was sealed with, and the checkpoints signed over them still hold.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Every column of an entry but its chain columns (migration 0011), now with receipt_id: the sealer may change
# none of them. A column added to audit_log later belongs here and in audit_entry_digest.
_CONTENT = (
    "id", "at", "request_id", "actor", "audience", "operation", "operation_type",
    "subject_ids", "fields_returned", "fields_refused", "purpose", "outcome", "receipt_id",
)  # fmt: skip
_CONTENT_BEFORE = _CONTENT[:-1]


def _row(prefix: str, columns: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


# concat_ws leaves out a NULL argument, separator and all: an entry without a receipt hashes exactly as before.
# A receipt id is tagged and quoted, so no other column's value can be read as one.
_DIGEST = """
    CREATE OR REPLACE FUNCTION audit_entry_digest(prev bytea, e audit_log) RETURNS bytea LANGUAGE sql STABLE AS $$
      SELECT sha256(prev || convert_to(concat_ws(E'\\x1f',
        e.id::text,
        to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        quote_nullable(e.request_id), quote_literal(e.actor), quote_nullable(e.audience),
        quote_literal(e.operation), quote_literal(e.operation_type),
        e.subject_ids::text, e.fields_returned::text, e.fields_refused::text,
        quote_nullable(e.purpose), quote_literal(e.outcome){receipt}), 'UTF8'))
    $$
"""
_RECEIPT_PART = ",\n        'receipt:' || quote_literal(e.receipt_id)"

_GUARD = """
    CREATE OR REPLACE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
         AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
         AND {new} IS NOT DISTINCT FROM {old} THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_log is append-only: % refused (the sealer alone fills an unsealed entry''s chain, once)',
        TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$
"""

# Dropping the column would leave every entry that carries a receipt with a hash no digest reproduces.
_REFUSE_DOWNGRADE_WITH_RECEIPTS = """
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM audit_log WHERE receipt_id IS NOT NULL) THEN
        RAISE EXCEPTION 'audit_log holds entries with a receipt id: dropping it would break the sealed chain';
      END IF;
    END $$
"""


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("receipt_id", sa.Text(), nullable=True))
    op.execute(_DIGEST.format(receipt=_RECEIPT_PART))
    op.execute(_GUARD.format(new=_row("NEW", _CONTENT), old=_row("OLD", _CONTENT)))


def downgrade() -> None:
    op.execute(_REFUSE_DOWNGRADE_WITH_RECEIPTS)
    op.execute(_GUARD.format(new=_row("NEW", _CONTENT_BEFORE), old=_row("OLD", _CONTENT_BEFORE)))
    op.execute(_DIGEST.format(receipt=""))
    op.drop_column("audit_log", "receipt_id")

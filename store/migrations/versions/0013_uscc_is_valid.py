"""``uscc_is_valid(code)``: GB 32100-2015 in SQL, for the references a compiled screen does not find.

A screen of a thousand references finds nearly all of them in the register, whose codes were validated when
they were written; only a reference it does not find may be malformed, and then the general path must answer
with its error. The statement checks those few here instead of the API process checking all thousand before
it runs. The function takes a normalized code (domain.identifiers.normalize) and is the same rule as
``domain.identifiers.validate_uscc``: positions 1 to 8 (authority, type, region), the GB 11714 check of the
embedded organization code (position 17) and the MOD 31 check (position 18). A property test holds the two to
the same verdict.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_FUNCTION = r"""
    CREATE FUNCTION uscc_is_valid(code text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
      SELECT code ~ '^[1-9ANY][0-9A-HJ-NP-RTUW-Y][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$'
        AND substr(code, 17, 1) = (
          SELECT CASE 11 - s % 11 WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE (11 - s % 11)::text END
          FROM (
            SELECT sum((position(substr(code, 8 + i::int, 1) IN '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') - 1) * w) AS s
            FROM unnest('{3,7,9,10,5,8,4,2}'::int[]) WITH ORDINALITY AS t(w, i)
          ) organization_code
        )
        AND substr(code, 18, 1) = (
          SELECT substr('0123456789ABCDEFGHJKLMNPQRTUWXY', ((31 - s % 31) % 31)::int + 1, 1)
          FROM (
            SELECT sum((position(substr(code, i::int, 1) IN '0123456789ABCDEFGHJKLMNPQRTUWXY') - 1) * w) AS s
            FROM unnest('{1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28}'::int[]) WITH ORDINALITY AS t(w, i)
          ) unified
        )
    $$
"""


def upgrade() -> None:
    op.execute(_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION uscc_is_valid(text)")

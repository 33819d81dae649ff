"""Find an employer's audit entries by subject: a GIN index on ``audit_log.subject_ids`` (PIPL art. 44-45).

``me { accessLog }`` lists every read of the employer's own subject, newest first, out of a log of hundreds of
millions of entries. A screen's entry lists up to a thousand subject ids, and the screen is the hottest write
of the log, so the index takes its entries the cheap way: ``fastupdate`` appends a new entry's keys to the
index's pending list, and merging that list into the tree (sorted, many entries' keys at once) happens later.
The limit is explicit and large so that no screen merges it inline, in its own request: the sealer merges it in
the background through ``audit_log_merge_index`` (owned by the table's owner, as ``audit_log_seal`` is, since
``gin_clean_pending_list`` asks for the index's owner), and autovacuum does too. docs/audit.md has the measured
cost and the alternatives.

The index is built CONCURRENTLY, outside a transaction: a plain CREATE INDEX would hold back every append to
the log (every read of the API) for as long as the build of a large log takes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

INDEX = "ix_audit_log_subject_ids"
# kB. Several seconds of screens at full speed; a GIN scan reads the whole pending list, so it is not unbounded.
PENDING_LIST_LIMIT = 32768
APP_ROLE = "hrss_app"

_MERGE = f"""
    CREATE FUNCTION audit_log_merge_index() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      SELECT gin_clean_pending_list('{INDEX}'::regclass)
    $$
"""


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")  # left INVALID by an interrupted build
        op.execute(
            f"CREATE INDEX CONCURRENTLY {INDEX} ON audit_log USING gin (subject_ids)"
            f" WITH (fastupdate = on, gin_pending_list_limit = {PENDING_LIST_LIMIT})"
        )
    op.execute(_MERGE)
    op.execute("REVOKE ALL ON FUNCTION audit_log_merge_index() FROM PUBLIC")
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN"
        f" GRANT EXECUTE ON FUNCTION audit_log_merge_index() TO {APP_ROLE}; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION audit_log_merge_index()")
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")

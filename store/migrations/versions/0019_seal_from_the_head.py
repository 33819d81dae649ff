"""Seal from the head down: ``audit_log_seal`` no longer walks the log from its first entry.

Sealing is an UPDATE that is never HOT, so the partial index of the unsealed entries (``WHERE hash IS NULL``)
keeps an entry for the first version of every sealed entry until a vacuum removes it. ``audit_log_seal`` looked
for the first unsealed entry with ``min(id) WHERE hash IS NULL``, a scan from the bottom of that index, which
walked every such dead entry: a pass cost more the longer the log had gone without a vacuum (python -m bench
audit_append). Every entry below the sealed head is sealed (entries arrive above it, with the id their identity
draws, and the guard lets no hash be cleared), so the function now finds the head first, through the primary key
from the top, and looks for unsealed entries above it only. What it chains, and how, is unchanged.

An unsealed entry below the head can then only be one whose hash the table's owner cleared with the guard
disabled. The sealer looked for that on every pass; ``audit_log_check_below_head`` now does, at the cost of the
same walk, and the sealer calls it every few seconds rather than a few hundred times a second (store.audit).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_FROM_THE_HEAD = """
    CREATE OR REPLACE FUNCTION audit_log_seal(up_to bigint, max_rows integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      first_unsealed bigint;
      head_id bigint;
      prev bytea;
      e audit_log;
      ids bigint[] := '{}';
      prevs bytea[] := '{}';
      hashes bytea[] := '{}';
      sealed integer;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('hrss_audit_log_seal'));
      -- From the head down, never from the log's first entry up: every entry below the head is sealed (entries
      -- arrive above it and the guard lets no hash go), and the partial index of the unsealed keeps an entry
      -- for every sealed entry's first version until a vacuum, which a scan from the bottom would walk.
      SELECT id, hash INTO head_id, prev FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1;
      head_id := coalesce(head_id, 0);
      SELECT min(id) INTO first_unsealed FROM audit_log WHERE hash IS NULL AND id > head_id;
      IF first_unsealed IS NULL OR first_unsealed > up_to THEN
        RETURN 0;
      END IF;
      prev := coalesce(prev, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
      FOR e IN SELECT * FROM audit_log WHERE hash IS NULL AND id > head_id AND id <= up_to ORDER BY id
               LIMIT max_rows LOOP
        ids := ids || e.id;
        prevs := prevs || prev;
        prev := audit_entry_digest(prev, e);
        hashes := hashes || prev;
      END LOOP;
      -- Entries arrive above the head (audit_log_arrives_unsealed), so a sealed entry among those chained now,
      -- or right after them, was sealed out of order (by hand, or past a transaction still running): chaining
      -- around it would hide that. Both look-ups stay within this batch, so a long backlog costs no more.
      IF EXISTS (SELECT FROM audit_log WHERE id > first_unsealed AND id <= e.id AND hash IS NOT NULL)
         OR (SELECT hash IS NOT NULL FROM audit_log WHERE id > e.id ORDER BY id LIMIT 1) THEN
        RAISE EXCEPTION 'audit_log entry % is unsealed below a sealed entry: the chain needs an investigation',
          first_unsealed USING ERRCODE = 'data_corrupted';
      END IF;
      UPDATE audit_log a SET prev_hash = s.prev_hash, hash = s.hash
      FROM unnest(ids, prevs, hashes) AS s(id, prev_hash, hash)
      WHERE a.id = s.id AND a.hash IS NULL;
      GET DIAGNOSTICS sealed = ROW_COUNT;
      IF sealed <> coalesce(array_length(ids, 1), 0) THEN
        RAISE EXCEPTION 'audit_log entries were sealed by another session meanwhile'
          USING ERRCODE = 'lock_not_available';
      END IF;
      RETURN sealed;
    END $$
"""

_CHECK_BELOW_HEAD = """
    CREATE FUNCTION audit_log_check_below_head() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      hole bigint;
    BEGIN
      SELECT min(u.id) INTO hole FROM audit_log u
      WHERE u.hash IS NULL AND u.id < (SELECT max(s.id) FROM audit_log s WHERE s.hash IS NOT NULL);
      IF hole IS NOT NULL THEN
        RAISE EXCEPTION 'audit_log entry % is unsealed below a sealed entry: the chain needs an investigation',
          hole USING ERRCODE = 'data_corrupted';
      END IF;
    END $$
"""
APP_ROLE = "hrss_app"

# 0011's, as it was.
_FROM_THE_BOTTOM = """
    CREATE OR REPLACE FUNCTION audit_log_seal(up_to bigint, max_rows integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      first_unsealed bigint;
      prev bytea;
      e audit_log;
      ids bigint[] := '{}';
      prevs bytea[] := '{}';
      hashes bytea[] := '{}';
      sealed integer;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('hrss_audit_log_seal'));
      SELECT min(id) INTO first_unsealed FROM audit_log WHERE hash IS NULL;
      IF first_unsealed IS NULL OR first_unsealed > up_to THEN
        RETURN 0;
      END IF;
      SELECT hash INTO prev FROM audit_log WHERE id < first_unsealed ORDER BY id DESC LIMIT 1;
      prev := coalesce(prev, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
      FOR e IN SELECT * FROM audit_log WHERE hash IS NULL AND id <= up_to ORDER BY id LIMIT max_rows LOOP
        ids := ids || e.id;
        prevs := prevs || prev;
        prev := audit_entry_digest(prev, e);
        hashes := hashes || prev;
      END LOOP;
      -- Entries arrive above the head (audit_log_arrives_unsealed), so a sealed entry among those chained now,
      -- or right after them, was sealed out of order (by hand, or past a transaction still running): chaining
      -- around it would hide that. Both look-ups stay within this batch, so a long backlog costs no more.
      IF EXISTS (SELECT FROM audit_log WHERE id > first_unsealed AND id <= e.id AND hash IS NOT NULL)
         OR (SELECT hash IS NOT NULL FROM audit_log WHERE id > e.id ORDER BY id LIMIT 1) THEN
        RAISE EXCEPTION 'audit_log entry % is unsealed below a sealed entry: the chain needs an investigation',
          first_unsealed USING ERRCODE = 'data_corrupted';
      END IF;
      UPDATE audit_log a SET prev_hash = s.prev_hash, hash = s.hash
      FROM unnest(ids, prevs, hashes) AS s(id, prev_hash, hash)
      WHERE a.id = s.id AND a.hash IS NULL;
      GET DIAGNOSTICS sealed = ROW_COUNT;
      IF sealed <> coalesce(array_length(ids, 1), 0) THEN
        RAISE EXCEPTION 'audit_log entries were sealed by another session meanwhile'
          USING ERRCODE = 'lock_not_available';
      END IF;
      RETURN sealed;
    END $$
"""


def upgrade() -> None:
    op.execute(_FROM_THE_HEAD)
    op.execute(_CHECK_BELOW_HEAD)
    op.execute("REVOKE ALL ON FUNCTION audit_log_check_below_head() FROM PUBLIC")
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN"
        f" GRANT EXECUTE ON FUNCTION audit_log_check_below_head() TO {APP_ROLE}; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION audit_log_check_below_head()")
    op.execute(_FROM_THE_BOTTOM)

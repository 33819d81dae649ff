"""Append audit entries without a global lock; one sealer chains them; signed checkpoints anchor the chain.

An entry is inserted unsealed (``prev_hash`` and ``hash`` NULL) with the id its identity draws, so writers never
wait for each other. The sealer (store.audit.Sealer, one at a time across all processes) chains the entries in
id order with ``audit_log_seal``, only up to ids no running transaction can still commit below. The append-only
trigger now allows exactly that one update: an unsealed entry's ``prev_hash`` and ``hash`` set once, nothing
else. Checkpoints (the chain head signed with the ES256 key of the JWKS) are kept in ``audit_checkpoints``,
append-only too, and exported to the auditor and the city platform. The role ``hrss_app`` is what the API needs
and no more: it does not own the tables, so it can neither disable their triggers nor update or delete entries.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

APP_ROLE = "hrss_app"

# Every column of an entry but its chain columns: the sealer may change none of them. A column added to
# audit_log later belongs here and in audit_entry_digest.
_CONTENT = (
    "id", "at", "request_id", "actor", "audience", "operation", "operation_type",
    "subject_ids", "fields_returned", "fields_refused", "purpose", "outcome",
)  # fmt: skip


def _row(prefix: str) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in _CONTENT) + ")"


_UPGRADE = [
    "DROP TRIGGER audit_log_chain ON audit_log",
    "DROP FUNCTION audit_log_chain()",
    "ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL",
    "ALTER TABLE audit_log ADD CONSTRAINT ck_audit_log_sealed_whole CHECK ((prev_hash IS NULL) = (hash IS NULL))",
    # The sealer's work list, and the first unsealed id (the chain head is the entry just below it).
    "CREATE INDEX ix_audit_log_unsealed ON audit_log (id) WHERE hash IS NULL",
    # An entry arrives unsealed, with the id its identity just drew in this session: so every unsealed entry lies
    # above the sealed head (the sequence only grows), and no writer can slip an entry into a gap of the chain or
    # hand in a chain of its own.
    """
    CREATE FUNCTION audit_log_arrives_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_log is append-only: an entry arrives unsealed, the sealer chains it'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF NEW.id IS DISTINCT FROM currval('audit_log_id_seq') THEN
        RAISE EXCEPTION 'audit_log is append-only: an entry takes the id its identity draws, not %', NEW.id
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER audit_log_arrives_unsealed BEFORE INSERT ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_arrives_unsealed()",
    # The trigger keeps its name (operators and tests know it); only its function changes.
    "DROP TRIGGER audit_log_append_only ON audit_log",
    f"""
    CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
         AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
         AND {_row("NEW")} IS NOT DISTINCT FROM {_row("OLD")} THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_log is append-only: % refused (the sealer alone fills an unsealed entry''s chain, once)',
        TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_guard()",
    # Chains up to max_rows unsealed entries with ids up to up_to, in id order, from the head below them. The
    # caller makes sure no transaction can still commit an id up to up_to (store.audit.seal). Two calls at once
    # take turns on a lock of their own (no writer takes it), and the second then starts from the first's head;
    # should two ever chain the same entries, the guard refuses the second rather than fork the chain. It runs as the
    # table's owner, so the API's role seals without any UPDATE privilege of its own: it cannot write a hash of
    # its choosing. search_path is pinned (pg_temp last) so no caller's temporary table stands in for the log.
    """
    CREATE FUNCTION audit_log_seal(up_to bigint, max_rows integer) RETURNS integer
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
    """,
    "REVOKE ALL ON FUNCTION audit_log_seal(bigint, integer) FROM PUBLIC",
    "CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints"
    " FOR EACH ROW EXECUTE FUNCTION refuse_change()",
    "CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints"
    " FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()",
]

# A role of the cluster, so created only when missing (another database of the cluster may have made it); the
# deployment gives it LOGIN or grants it to the login role the API connects as (docs/audit.md).
_CREATE_ROLE = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    BEGIN
      CREATE ROLE {APP_ROLE} NOLOGIN;
    EXCEPTION
      WHEN duplicate_object THEN NULL;  -- created meanwhile by a migration of another database
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role {APP_ROLE} does not exist and % may not create it', current_user
          USING HINT = 'CREATE ROLE {APP_ROLE} NOLOGIN as a role with CREATEROLE, then migrate again';
    END;
  END IF;
END $$
"""

_GRANTS = [
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}",
    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
    # What later migrations create is the API's to use too; an audit-like table takes its own REVOKE there.
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}",
    # The audit tables only grow; the API seals through audit_log_seal alone.
    f"REVOKE UPDATE, DELETE ON audit_log, audit_checkpoints FROM {APP_ROLE}",
    f"GRANT EXECUTE ON FUNCTION audit_log_seal(bigint, integer) TO {APP_ROLE}",
    # The migrations are the owner's business.
    f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {APP_ROLE}",
]

_REVOKES = [
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE}",
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE}",
    f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}",
    f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}",
]

_DOWNGRADE = [
    "DROP TRIGGER audit_checkpoints_no_truncate ON audit_checkpoints",
    "DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints",
    # The chain trigger of 0001 expects every entry sealed: seal what is left first, in order.
    "SELECT audit_log_seal(9223372036854775807, 2147483647)",
    "DROP FUNCTION audit_log_seal(bigint, integer)",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "DROP FUNCTION audit_log_guard()",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION refuse_change()",
    "DROP TRIGGER audit_log_arrives_unsealed ON audit_log",
    "DROP FUNCTION audit_log_arrives_unsealed()",
    "DROP INDEX ix_audit_log_unsealed",
    "ALTER TABLE audit_log DROP CONSTRAINT ck_audit_log_sealed_whole",
    "ALTER TABLE audit_log ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL",
    """
    CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      last_hash bytea;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('hrss_audit_log_chain'));
      NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
      SELECT hash INTO last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
      NEW.prev_hash := coalesce(last_hash, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
      NEW.hash := audit_entry_digest(NEW.prev_hash, NEW);
      RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain()",
]


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index("ix_audit_checkpoints_entry_id", "audit_checkpoints", ["entry_id"])
    for statement in _UPGRADE:
        op.execute(statement)
    op.execute(_CREATE_ROLE)
    for statement in _GRANTS:
        op.execute(statement)


def downgrade() -> None:
    # The role stays: it belongs to the cluster, other databases and login roles may use it.
    for statement in _REVOKES:
        op.execute(statement)
    for statement in _DOWNGRADE:
        op.execute(statement)
    op.drop_index("ix_audit_checkpoints_entry_id", table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")

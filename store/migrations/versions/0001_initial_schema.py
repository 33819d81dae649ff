"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Subjects, versioned credit records, grade history, restrictions, objections, repairs, the append-only
hash-chained audit log and the outbox. Triggers enforce what the regulations forbid at the lowest level:
credit records are never overwritten or deleted (WG art. 7: 不得篡改、虚构、隐匿或者违规删除信用信息), and the
audit log only grows (SH art. 12).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=True),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("operation_type", sa.Text(), nullable=False),
        sa.Column("subject_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("fields_returned", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("fields_refused", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("aggregate_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index("ix_outbox_pending", "outbox", ["id"], unique=False, postgresql_where=sa.text("pushed_at IS NULL"))
    op.create_table(
        "subjects",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uscc", sa.Text(), nullable=True),
        sa.Column("id_number_hash", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_masked", sa.Text(), nullable=True),
        sa.Column("region_code", sa.Text(), nullable=True),
        sa.Column("legal_representative_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(kind = 'ORGANIZATION' AND uscc IS NOT NULL AND id_number_hash IS NULL) OR (kind = 'INDIVIDUAL' AND id_number_hash IS NOT NULL AND id_number_enc IS NOT NULL AND uscc IS NULL)",
            name=op.f("ck_subjects_identifier_matches_kind"),
        ),
        sa.CheckConstraint("kind IN ('ORGANIZATION', 'INDIVIDUAL')", name=op.f("ck_subjects_kind")),
        sa.CheckConstraint(
            "legal_representative_id IS NULL OR kind = 'ORGANIZATION'",
            name=op.f("ck_subjects_representative_of_org"),
        ),
        sa.ForeignKeyConstraint(
            ["legal_representative_id"],
            ["subjects.id"],
            name=op.f("fk_subjects_legal_representative_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_subjects_id_number_hash")),
        sa.UniqueConstraint("uscc", name=op.f("uq_subjects_uscc")),
    )
    op.create_index("ix_subjects_legal_representative_id", "subjects", ["legal_representative_id"], unique=False)
    op.create_index(
        "ix_subjects_name_trgm",
        "subjects",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_table(
        "credit_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("previous_version_id", sa.BigInteger(), nullable=True),
        sa.Column("superseded_by_id", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="ACTIVE", nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("decision_number", sa.Text(), nullable=False),
        sa.Column("source_unit", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("publicity_until", sa.Date(), nullable=True),
        sa.Column("penalty_fulfilled", sa.Boolean(), nullable=True),
        sa.Column("corrected_on", sa.Date(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("content_digest", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("category IN ('BASIC', 'ENHANCING', 'DISHONESTY')", name=op.f("ck_credit_records_category")),
        sa.CheckConstraint(
            "severity IS DISTINCT FROM 'SERIOUS' OR legal_basis IS NOT NULL",
            name=op.f("ck_credit_records_serious_basis"),
        ),
        sa.CheckConstraint(
            "severity IS NULL OR severity IN ('MINOR', 'GENERAL', 'SERIOUS')",
            name=op.f("ck_credit_records_severity"),
        ),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'UNDER_OBJECTION', 'CORRECTED', 'REPAIRED', 'REVOKED')",
            name=op.f("ck_credit_records_status"),
        ),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["credit_records.id"],
            name=op.f("fk_credit_records_previous_version_id_credit_records"),
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_credit_records_subject_id_subjects")),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["credit_records.id"],
            name=op.f("fk_credit_records_superseded_by_id_credit_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_records")),
        sa.UniqueConstraint(
            "source_unit",
            "decision_number",
            "version",
            name=op.f("uq_credit_records_source_unit_decision_number_version"),
        ),
    )
    op.create_index(
        "ix_credit_records_subject_current",
        "credit_records",
        ["subject_id", "decided_on", "id"],
        unique=False,
    )
    op.create_index(
        "uq_credit_records_current_decision",
        "credit_records",
        ["source_unit", "decision_number"],
        unique=True,
        postgresql_where=sa.text("superseded_by_id IS NULL"),
    )
    op.create_table(
        "grades",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("cycle_start", sa.Date(), nullable=False),
        sa.Column("cycle_end", sa.Date(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("rule_document", sa.Text(), nullable=False),
        sa.Column("rule_article", sa.Text(), nullable=False),
        sa.Column("basis_record_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("disputed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("level IN ('A_PLUS', 'A', 'B', 'C')", name=op.f("ck_grades_level")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_grades_valid_period")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_grades_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grades")),
    )
    op.create_index("ix_grades_subject_period", "grades", ["subject_id", "valid_from"], unique=False)
    op.create_table(
        "objections",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="SUBMITTED", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("needs_external_verification", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("push_due_on", sa.Date(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadlines_provisional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("corrected_record_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('SUBMITTED', 'VERIFYING', 'CORRECTED', 'REJECTED')", name=op.f("ck_objections_status")
        ),
        sa.ForeignKeyConstraint(
            ["corrected_record_id"],
            ["credit_records.id"],
            name=op.f("fk_objections_corrected_record_id_credit_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["credit_records.id"], name=op.f("fk_objections_record_id_credit_records")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_objections_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objections")),
    )
    op.create_index("ix_objections_record", "objections", ["record_id"], unique=False)
    op.create_index("ix_objections_subject", "objections", ["subject_id"], unique=False)
    op.create_table(
        "repairs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="SUBMITTED", nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('SUBMITTED', 'APPROVED', 'REJECTED')", name=op.f("ck_repairs_status")),
        sa.ForeignKeyConstraint(["record_id"], ["credit_records.id"], name=op.f("fk_repairs_record_id_credit_records")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_repairs_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repairs")),
    )
    op.create_index("ix_repairs_record", "repairs", ["record_id"], unique=False)
    op.create_index("ix_repairs_subject", "repairs", ["subject_id"], unique=False)
    op.create_table(
        "restrictions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("sector", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("legal_document", sa.Text(), nullable=False),
        sa.Column("legal_article", sa.Text(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("source_record_id", sa.BigInteger(), nullable=True),
        sa.Column("exception", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("until IS NULL OR until >= since", name=op.f("ck_restrictions_period")),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["credit_records.id"],
            name=op.f("fk_restrictions_source_record_id_credit_records"),
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_restrictions_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restrictions")),
    )
    op.create_index("ix_restrictions_subject_sector", "restrictions", ["subject_id", "sector", "since"], unique=False)
    for statement in _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_TRIGGERS:
        op.execute(statement)
    op.drop_index("ix_restrictions_subject_sector", table_name="restrictions")
    op.drop_table("restrictions")
    op.drop_index("ix_repairs_subject", table_name="repairs")
    op.drop_index("ix_repairs_record", table_name="repairs")
    op.drop_table("repairs")
    op.drop_index("ix_objections_subject", table_name="objections")
    op.drop_index("ix_objections_record", table_name="objections")
    op.drop_table("objections")
    op.drop_index("ix_grades_subject_period", table_name="grades")
    op.drop_table("grades")
    op.drop_index(
        "uq_credit_records_current_decision",
        table_name="credit_records",
        postgresql_where=sa.text("superseded_by_id IS NULL"),
    )
    op.drop_index("ix_credit_records_subject_current", table_name="credit_records")
    op.drop_table("credit_records")
    op.drop_index(
        "ix_subjects_name_trgm",
        table_name="subjects",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_index("ix_subjects_legal_representative_id", table_name="subjects")
    op.drop_table("subjects")
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("pushed_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("audit_log")


_TRIGGERS = [
    # Content columns of a record version never change; only its status and its successor link do.
    """
    CREATE FUNCTION credit_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'credit records are never deleted (WG art. 7); revoke or correct them instead'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF (NEW.id, NEW.subject_id, NEW.version, NEW.previous_version_id, NEW.category, NEW.type, NEW.severity,
          NEW.title, NEW.decision_number, NEW.source_unit, NEW.legal_basis, NEW.occurred_on, NEW.decided_on,
          NEW.publicity_until, NEW.penalty_fulfilled, NEW.corrected_on, NEW.details, NEW.content_digest,
          NEW.created_at, NEW.created_by)
         IS DISTINCT FROM
         (OLD.id, OLD.subject_id, OLD.version, OLD.previous_version_id, OLD.category, OLD.type, OLD.severity,
          OLD.title, OLD.decision_number, OLD.source_unit, OLD.legal_basis, OLD.occurred_on, OLD.decided_on,
          OLD.publicity_until, OLD.penalty_fulfilled, OLD.corrected_on, OLD.details, OLD.content_digest,
          OLD.created_at, OLD.created_by) THEN
        RAISE EXCEPTION 'credit record % is immutable: a change is a new version (WG art. 7)', OLD.id
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF OLD.superseded_by_id IS NOT NULL AND NEW.superseded_by_id IS DISTINCT FROM OLD.superseded_by_id THEN
        RAISE EXCEPTION 'credit record % is already superseded', OLD.id USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER credit_records_guard BEFORE UPDATE OR DELETE ON credit_records"
    " FOR EACH ROW EXECUTE FUNCTION credit_records_guard()",
    """
    CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    "CREATE TRIGGER credit_records_no_truncate BEFORE TRUNCATE ON credit_records"
    " FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()",
    # The audit chain: each entry's hash covers the previous entry's hash and every column of its own.
    """
    CREATE FUNCTION audit_entry_digest(prev bytea, e audit_log) RETURNS bytea LANGUAGE sql STABLE AS $$
      SELECT sha256(prev || convert_to(concat_ws(E'\\x1f',
        e.id::text,
        to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        quote_nullable(e.request_id), quote_literal(e.actor), quote_nullable(e.audience),
        quote_literal(e.operation), quote_literal(e.operation_type),
        e.subject_ids::text, e.fields_returned::text, e.fields_refused::text,
        quote_nullable(e.purpose), quote_literal(e.outcome)), 'UTF8'))
    $$
    """,
    # Entries are serialized by an advisory lock held to the end of the inserting transaction, and take their
    # id under it, so the chain order is the id order of committed entries.
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
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION refuse_change()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()",
]

_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_chain ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_chain()",
    "DROP FUNCTION IF EXISTS audit_entry_digest(bytea, audit_log)",
    "DROP TRIGGER IF EXISTS credit_records_no_truncate ON credit_records",
    "DROP TRIGGER IF EXISTS credit_records_guard ON credit_records",
    "DROP FUNCTION IF EXISTS refuse_change()",
    "DROP FUNCTION IF EXISTS credit_records_guard()",
]

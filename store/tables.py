"""SQLAlchemy Core tables: the shape the repositories query.

The schema itself is created by the Alembic migrations under store/migrations (never ``create_all``);
``tests/store/test_migrations.py`` checks that these definitions and the migrated database agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_now = sa.text("now()")
# Codes and names matched exactly, never sorted for a reader: compared byte by byte (migration 0007).
IDENTIFIER = sa.Text(collation="C")

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    # 统一社会信用代码 of an organization, normalized (GB 32100-2015).
    sa.Column("uscc", IDENTIFIER, unique=True),
    # An individual's 居民身份证号码 is personal information: a keyed hash for look-up, an AES-GCM copy, and the
    # masked form for readers without the PII scope. The clear number is never stored.
    sa.Column("id_number_hash", sa.LargeBinary, unique=True),
    sa.Column("id_number_enc", sa.LargeBinary),
    sa.Column("id_number_masked", sa.Text),
    sa.Column("region_code", sa.Text),
    sa.Column("legal_representative_id", sa.BigInteger, sa.ForeignKey("subjects.id")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("kind IN ('ORGANIZATION', 'INDIVIDUAL')", name="kind"),
    sa.CheckConstraint(
        "(kind = 'ORGANIZATION' AND uscc IS NOT NULL AND id_number_hash IS NULL)"
        " OR (kind = 'INDIVIDUAL' AND id_number_hash IS NOT NULL AND id_number_enc IS NOT NULL AND uscc IS NULL)",
        name="identifier_matches_kind",
    ),
    sa.CheckConstraint("legal_representative_id IS NULL OR kind = 'ORGANIZATION'", name="representative_of_org"),
    sa.Index("ix_subjects_legal_representative_id", "legal_representative_id"),
    # nameContains search: a trigram index serves ILIKE '%...%'.
    sa.Index("ix_subjects_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
)

credit_records = sa.Table(
    "credit_records",
    metadata,
    # One row per version of a record. Content columns are immutable (a trigger refuses to change them): a
    # correction inserts a new version and marks the old one CORRECTED (DESIGN.md "Records"; WG art. 7).
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    # No foreign key: a trigger checks a statement's new rows against subjects at once, and subjects are never
    # deleted (migration 0006: the key's locking look-up a row cost more than the rest of the row's checks).
    sa.Column("subject_id", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("previous_version_id", sa.BigInteger, sa.ForeignKey("credit_records.id")),
    sa.Column("superseded_by_id", sa.BigInteger, sa.ForeignKey("credit_records.id")),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("severity", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="ACTIVE"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("decision_number", IDENTIFIER, nullable=False),
    sa.Column("source_unit", IDENTIFIER, nullable=False),
    sa.Column("legal_basis", sa.Text),
    sa.Column("occurred_on", sa.Date),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("publicity_until", sa.Date),
    sa.Column("penalty_fulfilled", sa.Boolean),
    sa.Column("corrected_on", sa.Date),
    sa.Column("details", pg.JSONB),
    # Digest of the content columns: a resent record with the same digest is "unchanged" (idempotent import).
    sa.Column("content_digest", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("status_changed_at", sa.DateTime(timezone=True)),
    sa.Column("status_reason", sa.Text),
    sa.CheckConstraint("status IN ('ACTIVE', 'UNDER_OBJECTION', 'CORRECTED', 'REPAIRED', 'REVOKED')", name="status"),
    sa.CheckConstraint("category IN ('BASIC', 'ENHANCING', 'DISHONESTY')", name="category"),
    sa.CheckConstraint("severity IS NULL OR severity IN ('MINOR', 'GENERAL', 'SERIOUS')", name="severity"),
    sa.CheckConstraint("severity IS DISTINCT FROM 'SERIOUS' OR legal_basis IS NOT NULL", name="serious_basis"),
    sa.UniqueConstraint("source_unit", "decision_number", "version"),
    sa.Index("ix_credit_records_subject_current", "subject_id", "decided_on", "id"),
    sa.Index(
        "uq_credit_records_current_decision",
        "source_unit",
        "decision_number",
        unique=True,
        postgresql_where=sa.text("superseded_by_id IS NULL"),
    ),
)

grades = sa.Table(
    "grades",
    metadata,
    # Grade history (WG art. 13): a row holds from valid_from up to, not including, valid_to.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("subject_id", sa.BigInteger, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
    sa.Column("cycle_start", sa.Date, nullable=False),
    sa.Column("cycle_end", sa.Date, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("rule_document", sa.Text, nullable=False),
    sa.Column("rule_article", sa.Text, nullable=False),
    sa.Column("basis_record_ids", pg.ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("disputed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("rule_text", sa.Text),
    sa.Column("superseded_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("level IN ('A_PLUS', 'A', 'B', 'C')", name="level"),
    sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
    sa.Index("ix_grades_subject_period", "subject_id", "valid_from"),
    sa.Index("ix_grades_current", "subject_id", "valid_from", postgresql_where=sa.text("superseded_at IS NULL")),
    sa.Index(
        "ix_grades_level_current",
        "level",
        "subject_id",
        postgresql_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
    ),
)

restrictions = sa.Table(
    "restrictions",
    metadata,
    # A joint-punishment restriction (SH art. 9) in one sector, in force from since to until (inclusive).
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("subject_id", sa.BigInteger, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("sector", sa.Text, nullable=False),
    sa.Column("measure", sa.Text, nullable=False),
    sa.Column("legal_document", sa.Text, nullable=False),
    sa.Column("legal_article", sa.Text, nullable=False),
    sa.Column("since", sa.Date, nullable=False),
    sa.Column("until", sa.Date),
    sa.Column("source_record_id", sa.BigInteger, sa.ForeignKey("credit_records.id")),
    sa.Column("exception", sa.Text),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("legal_text", sa.Text),
    sa.Column("disputed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("superseded_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("until IS NULL OR until >= since", name="period"),
    sa.Index("ix_restrictions_subject_sector", "subject_id", "sector", "since"),
    sa.Index(
        "ix_restrictions_current", "subject_id", "sector", "since", postgresql_where=sa.text("superseded_at IS NULL")
    ),
)

recompute_queue = sa.Table(
    "recompute_queue",
    metadata,
    # Subjects whose records a bulk import changed and whose grades and restrictions are not recomputed yet
    # (store.pending): every reader of grades or restrictions settles them first (services.grading), the import and every API
    # process drain the queue.
    # No foreign key: ids queued were just written or read in the same transaction, and subjects are never
    # deleted (migration 0005: the key's check cost more than the row).
    sa.Column("subject_id", sa.BigInteger, primary_key=True),
    sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

holidays = sa.Table(
    "holidays",
    metadata,
    # The official schedule for years chinesecalendar does not cover, loaded by the bureau.
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("working_day", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
)

holiday_years = sa.Table(
    "holiday_years",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

objections = sa.Table(
    "objections",
    metadata,
    # 异议 (SH art. 10, WG art. 19-20).
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("record_id", sa.BigInteger, sa.ForeignKey("credit_records.id"), nullable=False),
    sa.Column("subject_id", sa.BigInteger, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="SUBMITTED"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("submitted_by", sa.Text, nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("needs_external_verification", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.Text),
    sa.Column("decision", sa.Text),
    sa.Column("push_due_on", sa.Date),
    sa.Column("pushed_at", sa.DateTime(timezone=True)),
    sa.Column("deadlines_provisional", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("corrected_record_id", sa.BigInteger, sa.ForeignKey("credit_records.id")),
    sa.CheckConstraint("status IN ('SUBMITTED', 'VERIFYING', 'CORRECTED', 'REJECTED')", name="status"),
    sa.Index("ix_objections_subject", "subject_id"),
    sa.Index("ix_objections_record", "record_id"),
)

repairs = sa.Table(
    "repairs",
    metadata,
    # 信用修复 (SH art. 11, WG art. 21, the national repair rule).
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("record_id", sa.BigInteger, sa.ForeignKey("credit_records.id"), nullable=False),
    sa.Column("subject_id", sa.BigInteger, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="SUBMITTED"),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("submitted_by", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.Text),
    sa.Column("decision", sa.Text),
    sa.CheckConstraint("status IN ('SUBMITTED', 'APPROVED', 'REJECTED')", name="status"),
    sa.Index("ix_repairs_subject", "subject_id"),
    sa.Index("ix_repairs_record", "record_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # Append-only and hash-chained (SH art. 12, WG art. 7): an entry is inserted unsealed (prev_hash and hash
    # NULL) and the sealer chains it once, in id order (store.audit, migration 0011); triggers refuse every other
    # UPDATE, DELETE and TRUNCATE.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("clock_timestamp()")),
    sa.Column("request_id", sa.Text),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("audience", sa.Text),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("operation_type", sa.Text, nullable=False),
    sa.Column("subject_ids", pg.ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
    sa.Column("fields_returned", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("fields_refused", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("purpose", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    # The id (jti) of the signed screening receipt the request issued (services.receipts), under the seal.
    sa.Column("receipt_id", sa.Text),
    sa.Column("prev_hash", sa.LargeBinary),
    sa.Column("hash", sa.LargeBinary),
    sa.CheckConstraint("(prev_hash IS NULL) = (hash IS NULL)", name="sealed_whole"),
    sa.Index("ix_audit_log_unsealed", "id", postgresql_where=sa.text("hash IS NULL")),
    # A subject's sealed entries (the employer's access log, the auditor's filter): GIN with a large pending list,
    # which the sealer merges in the background; its keys go in when the sealer seals, never in a request
    # (migrations 0015 and 0018, docs/audit.md).
    sa.Index(
        "ix_audit_log_subject_ids",
        "subject_ids",
        postgresql_using="gin",
        postgresql_with={"fastupdate": "on", "gin_pending_list_limit": 32768},
        postgresql_where=sa.text("hash IS NOT NULL"),
    ),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    # The chain head signed with the ES256 key of the JWKS (store.audit.Checkpoint): copies kept outside the
    # database anchor the chain against its owner. Append-only like the log.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("entry_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("entry_hash", sa.LargeBinary, nullable=False),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kid", sa.Text, nullable=False),
    sa.Column("jws", sa.Text, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    # Changes the city credit platform must receive, written in the same transaction as the change.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "event_id",
        pg.UUID(as_uuid=True),
        nullable=False,
        unique=True,
        server_default=sa.text("outbox_event_id()"),  # time-ordered (UUIDv7 layout), migration 0006
    ),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("aggregate_id", sa.BigInteger, nullable=False),
    # NULL for record.created: the payload is the (immutable) record, built when the event is read (store.outbox).
    sa.Column("payload", pg.JSONB),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("pushed_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.CheckConstraint("payload IS NOT NULL OR topic = 'record.created'", name="payload"),
    sa.Index("ix_outbox_pending", "id", postgresql_where=sa.text("pushed_at IS NULL")),
    # The one look-up by aggregate: an objection's decision event (store.objections); record events skip it.
    sa.Index("ix_outbox_objection_decided", "aggregate_id", postgresql_where=sa.text("topic = 'objection.decided'")),
)

auth_failures = sa.Table(
    "auth_failures",
    metadata,
    # Failed client secrets and employer passwords, counted per key in fixed windows (store.auth_failures), in
    # the database so that every API process sees the same counts. ``kind`` is client, user or addr.
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("key", IDENTIFIER, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
    # Set once the count reaches the limit: every attempt for the key is refused until then.
    sa.Column("blocked_until", sa.DateTime(timezone=True)),
    sa.CheckConstraint("kind IN ('client', 'user', 'addr')", name="kind"),
    sa.CheckConstraint("failures > 0", name="failures"),
    # The purge of counters whose window is over.
    sa.Index("ix_auth_failures_window_ends_at", "window_ends_at"),
)

persisted_documents = sa.Table(
    "persisted_documents",
    metadata,
    # GraphQL documents by the SHA-256 of their text (lower-case hex): automatic persisted queries, and the
    # documents registered as trusted. Shared by every API process; a row is never changed, only added.
    sa.Column("sha256", IDENTIFIER, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
)

trusted_documents = sa.Table(
    "trusted_documents",
    metadata,
    # The operations an audience may run when only registered ones may (HRSS_TRUSTED_DOCUMENTS).
    sa.Column("audience", IDENTIFIER, primary_key=True),
    sa.Column("sha256", IDENTIFIER, sa.ForeignKey("persisted_documents.sha256"), primary_key=True),
    sa.Column("operation_name", sa.Text),
    sa.Column("operation_type", sa.Text, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("operation_type IN ('query', 'mutation', 'subscription')", name="operation_type"),
)

auth_codes = sa.Table(
    "auth_codes",
    metadata,
    # The employer login's authorization codes (store.login_state), in the database so that a code issued by
    # one API process is exchanged at any other. Kept under the code's SHA-256: a code is a bearer secret.
    sa.Column("code_hash", sa.LargeBinary, primary_key=True),
    sa.Column("client_id", IDENTIFIER, nullable=False),
    # Where the code was delivered, and the redirect_uri exactly as the request sent it (NULL: omitted).
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("redirect_uri_param", sa.Text),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("username", IDENTIFIER, nullable=False),
    sa.Column("code_challenge", sa.Text, nullable=False),
    sa.Column("code_challenge_method", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    # Set by the one exchange a code allows; the row stays until it expires so that a replay is recognized.
    sa.Column("spent_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("octet_length(code_hash) = 32", name="code_hash"),
    sa.Index("ix_auth_codes_expires_at", "expires_at"),
)

auth_secrets = sa.Table(
    "auth_secrets",
    metadata,
    # Keys every API process must hold alike (the token signing key, the login form's CSRF key) when the
    # settings give none: the first process creates each, every other reads it (store.login_state).
    sa.Column("name", IDENTIFIER, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now, nullable=False),
)

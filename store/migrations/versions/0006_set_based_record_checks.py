"""Cheaper rows for a bulk import's records and events, with the same guarantees.

What an imported row costs PostgreSQL, part by part, is what ``python bench/insert_parts.py`` prints.

- ``credit_records.subject_id``: the foreign key checked each row with a locking look-up of its subject
  (``FOR KEY SHARE``, which writes the subject's row). It becomes one set-based check a statement (an anti-join
  of the statement's new rows against subjects, ``credit_records_subject_exists``), with the same error code.
  The lock protected against a subject being deleted meanwhile: subjects are now never deleted, truncated or
  renumbered (``subjects_guard``), so nothing can take a record's subject away after the check. A record's
  subject_id never changes (``credit_records_guard``).
- ``record.created`` events no longer copy the record into their payload: a record version's content, id,
  subject and version never change (``credit_records_guard``) and a record is never deleted, so the payload is
  built when the event is read (``outbox_record_created_payload``), the same JSON the copy held. Every other
  topic keeps its payload (``ck_outbox_payload``).
- Event ids are time-ordered (UUID version 7, RFC 9562: a millisecond timestamp, then random bits): the unique
  index on them grows at its right edge instead of at a random leaf. They stay unique and unguessable.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UPGRADE = [
    # --- A record's subject: one check a statement, and subjects that never go away.
    """
    CREATE FUNCTION credit_records_subject_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      missing bigint;
    BEGIN
      SELECT n.subject_id INTO missing FROM new_records n
      WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.id = n.subject_id) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'insert into credit_records: subject % does not exist', missing
          USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER credit_records_subject_exists AFTER INSERT ON credit_records"
    " REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT EXECUTE FUNCTION credit_records_subject_exists()",
    """
    CREATE FUNCTION subjects_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'subjects are never deleted: their records and grades are kept (WG art. 7)'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'subject % keeps its id', OLD.id USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER subjects_guard BEFORE DELETE OR UPDATE OF id ON subjects"
    " FOR EACH ROW EXECUTE FUNCTION subjects_guard()",
    "CREATE TRIGGER subjects_no_truncate BEFORE TRUNCATE ON subjects FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()",
    "ALTER TABLE credit_records DROP CONSTRAINT fk_credit_records_subject_id_subjects",
    # --- record.created events: the payload is the record, read when the event is.
    """
    CREATE FUNCTION outbox_record_created_payload(record_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'type', r.type, 'category', r.category, 'severity', r.severity, 'title', r.title,
        'decision_number', r.decision_number, 'source_unit', r.source_unit, 'legal_basis', r.legal_basis,
        'occurred_on', r.occurred_on, 'decided_on', r.decided_on, 'publicity_until', r.publicity_until,
        'penalty_fulfilled', r.penalty_fulfilled, 'corrected_on', r.corrected_on, 'details', r.details,
        'record_id', r.id, 'subject_id', r.subject_id, 'version', r.version)
      FROM credit_records r WHERE r.id = record_id
    $$
    """,
    "ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL",
    "ALTER TABLE outbox ADD CONSTRAINT ck_outbox_payload CHECK (payload IS NOT NULL OR topic = 'record.created')",
    # --- Time-ordered event ids (UUIDv7 layout: 48-bit Unix milliseconds, version 7, variant 10, random bits).
    """
    CREATE FUNCTION outbox_event_id() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
      SELECT CAST(encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
               PLACING substring(int8send(CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS bigint)) FROM 3)
               FROM 1 FOR 6), 52, 1), 53, 1), 'hex') AS uuid)
    $$
    """,
    "ALTER TABLE outbox ALTER COLUMN event_id SET DEFAULT outbox_event_id()",
]

_DOWNGRADE = [
    "ALTER TABLE outbox ALTER COLUMN event_id SET DEFAULT gen_random_uuid()",
    "DROP FUNCTION outbox_event_id()",
    "UPDATE outbox SET payload = outbox_record_created_payload(aggregate_id) WHERE payload IS NULL",
    "ALTER TABLE outbox DROP CONSTRAINT ck_outbox_payload",
    "ALTER TABLE outbox ALTER COLUMN payload SET NOT NULL",
    "DROP FUNCTION outbox_record_created_payload(bigint)",
    "ALTER TABLE credit_records ADD CONSTRAINT fk_credit_records_subject_id_subjects"
    " FOREIGN KEY (subject_id) REFERENCES subjects (id)",
    "DROP TRIGGER subjects_no_truncate ON subjects",
    "DROP TRIGGER subjects_guard ON subjects",
    "DROP FUNCTION subjects_guard()",
    "DROP TRIGGER credit_records_subject_exists ON credit_records",
    "DROP FUNCTION credit_records_subject_exists()",
]


def upgrade() -> None:
    for statement in _UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DOWNGRADE:
        op.execute(statement)

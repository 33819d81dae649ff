"""Every outbox event names its subject and its record's decision (SH art. 7, 沪人社规〔2023〕26号 第七条).

The city credit platform must receive complete and accurate information; internal ids alone tie an event to
nothing it knows. Each event's payload gains, beside the ids it carried, two objects:

- ``subject``: ``id``, ``kind``, ``name`` and, for an organization, its ``uscc``. An individual's ID number
  is stored encrypted (store.pii) and SQL cannot decrypt it: it is added when the event is read for delivery
  or export (store.outbox), never stored in clear here.
- ``record``: ``id``, ``version``, ``type``, ``decision_number``, ``source_unit`` and ``decided_on`` of the
  record version the event is about (its ``record_id``).

``outbox_identification`` builds both from a record and its subject. Writers add it in the statement that
appends the event (store.outbox.record_events), so the event keeps the subject's name as it was then; a
``record.created`` event's payload is still built when it is read (migration 0006), now with both objects.
The events already written get them here, with the subject's name as it is now: a record's content and a
subject's identifier never change, so the rest is what was true when the event happened.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_RECORD_CREATED_0006 = """
    CREATE OR REPLACE FUNCTION outbox_record_created_payload(record_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'type', r.type, 'category', r.category, 'severity', r.severity, 'title', r.title,
        'decision_number', r.decision_number, 'source_unit', r.source_unit, 'legal_basis', r.legal_basis,
        'occurred_on', r.occurred_on, 'decided_on', r.decided_on, 'publicity_until', r.publicity_until,
        'penalty_fulfilled', r.penalty_fulfilled, 'corrected_on', r.corrected_on, 'details', r.details,
        'record_id', r.id, 'subject_id', r.subject_id, 'version', r.version)
      FROM credit_records r WHERE r.id = record_id
    $$
"""

_UPGRADE = [
    """
    CREATE FUNCTION outbox_identification(r credit_records, s subjects) RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'subject', jsonb_strip_nulls(jsonb_build_object('id', s.id, 'kind', s.kind, 'name', s.name, 'uscc', s.uscc)),
        'record', jsonb_build_object(
          'id', r.id, 'version', r.version, 'type', r.type, 'decision_number', r.decision_number,
          'source_unit', r.source_unit, 'decided_on', r.decided_on))
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION outbox_record_created_payload(record_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'type', r.type, 'category', r.category, 'severity', r.severity, 'title', r.title,
        'decision_number', r.decision_number, 'source_unit', r.source_unit, 'legal_basis', r.legal_basis,
        'occurred_on', r.occurred_on, 'decided_on', r.decided_on, 'publicity_until', r.publicity_until,
        'penalty_fulfilled', r.penalty_fulfilled, 'corrected_on', r.corrected_on, 'details', r.details,
        'record_id', r.id, 'subject_id', r.subject_id, 'version', r.version) || outbox_identification(r, s)
      FROM credit_records r JOIN subjects s ON s.id = r.subject_id WHERE r.id = record_id
    $$
    """,
    # Every stored payload names its record (record_id); records and subjects are never deleted.
    """
    UPDATE outbox o SET payload = o.payload || outbox_identification(r, s)
    FROM credit_records r JOIN subjects s ON s.id = r.subject_id
    WHERE o.payload ? 'record_id' AND NOT o.payload ? 'subject'
      AND r.id = CAST(o.payload ->> 'record_id' AS bigint)
    """,
]

_DOWNGRADE = [
    "UPDATE outbox SET payload = payload - 'subject' - 'record' WHERE payload ? 'subject'",
    _RECORD_CREATED_0006,
    "DROP FUNCTION outbox_identification(credit_records, subjects)",
]


def upgrade() -> None:
    for statement in _UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DOWNGRADE:
        op.execute(statement)

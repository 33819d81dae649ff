"""Writes of the contract: importRecords, upsertSubjects, revokeRecord (record:write).

Adapters of the use cases in services/records.py and services/subjects.py, in the request's transaction: the
GraphQL input becomes the use case's values, its rows become the GraphQL types. A source unit's token (claim
``source_unit``) writes only records of its own unit (policy.md).
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.records import RECORD_CONTENT, TYPED_DETAILS
from domain.taxonomy import RecordCategory, RecordType, Severity
from schema.context import Info
from schema.errors import BadUserInput
from schema.ids import parse_global_id
from schema.messages import translate
from schema.records import CreditRecord
from schema.subjects import Subject, SubjectRef
from schema.writing import work_calendar
from services import records as record_service
from services import subjects as subject_service
from store import bulk, imports
from store.bulk import InvalidField
from store.imports import RowError, SubjectKey, SubjectUpsert


@strawberry.input
class RecordInput:
    subject: SubjectRef
    subject_name: str | None = strawberry.field(
        default=None, description="Name of the subject; creates the subject if it does not exist yet."
    )
    type: RecordType
    category: RecordCategory | None = strawberry.field(
        default=None, description="Optional; when given it must agree with the type (WG art. 5)."
    )
    severity: Severity | None = None
    title: str
    decision_number: str
    source_unit: str
    legal_basis: str | None = None
    occurred_on: date | None = None
    decided_on: date
    publicity_until: date | None = None
    penalty_fulfilled: bool | None = None
    corrected_on: date | None = None
    labor_contract_attested: bool | None = strawberry.field(
        default=None,
        description=(
            "HARMONIOUS_LABOR_RELATIONS only: the designation attests that the employer keeps the labor-contract "
            "system (舞人社〔2022〕127号 第九条第（二）项); without it the designation gives no A+. Stored as "
            "details.labor_contract_attested, which is still accepted."
        ),
    )
    harm_eliminated: bool | None = strawberry.field(
        default=None,
        description=(
            "ADMINISTRATIVE_PENALTY only: the party eliminated or mitigated the harm of the violation "
            "(主动消除、减轻违法行为危害后果, 沪人社规〔2023〕26号 第五条第（二）项): the penalty is then not dishonesty "
            "information and is not published, yet still counts for the grade (舞人社〔2022〕127号 第十二条第（一）项). "
            "Stored as details.harm_eliminated, which is still accepted."
        ),
    )
    details: JSON | None = None


@strawberry.type
class RecordImportError:
    index: int = strawberry.field(description="Index of the input row.")
    field: str | None
    message: str


@strawberry.type
class RecordImportResult:
    created: int
    unchanged: int
    errors: list[RecordImportError]
    records: list[CreditRecord]


@strawberry.input
class SubjectInput:
    ref: SubjectRef
    name: str
    region_code: str | None = None
    legal_representative: SubjectRef | None = None


def subject_key(ref: SubjectRef, *, today: date, field: str) -> SubjectKey:
    """A validated identifier of a SubjectRef; a bad one raises InvalidField naming ``field`` (the same rule as
    a row of importRecords or of a file, store.bulk.subject_key_of)."""
    return bulk.subject_key_of(
        {"uscc": ref.uscc, "idNumber": ref.id_number, "id": ref.id},
        today=today,
        field=field,
        parse_id=partial(_subject_pk, field=f"{field}.id"),
    )


def _subject_pk(value: str, field: str = "subject.id") -> int:
    """A SubjectRef's global id: an undecodable one is bad input naming the field; another node type is not a subject."""
    type_name, pk = parse_global_id(value, field=field)
    if type_name != "Subject":
        raise ValueError("is not a subject id")
    return pk


def _attribute(name: str) -> str:
    """The RecordInput attribute of a camelCase input name: the schema names a field by its attribute, camelCased."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# The keys of the mapping build_rows reads, with the RecordInput attribute each is taken from: the subject's
# name, the content's fields and the typed fields kept in details (the subject is a nested object).
_ITEM_FIELDS = (
    ("subjectName", "subject_name"),
    *((f.input, f.name) for f in RECORD_CONTENT),
    *((typed.field, _attribute(typed.field)) for typed in TYPED_DETAILS),
)


def _record_item(item: RecordInput) -> dict[str, Any]:
    """A RecordInput as the mapping store.bulk.build_rows reads (the shape of a JSON line)."""
    ref = item.subject
    mapping = {name: getattr(item, attribute) for name, attribute in _ITEM_FIELDS}
    mapping["subject"] = {"uscc": ref.uscc, "idNumber": ref.id_number, "id": ref.id}
    return mapping


def _errors(errors: list[RowError], language: str) -> list[RecordImportError]:
    return [RecordImportError(index=e.index, field=e.field, message=translate(e.message, language)) for e in errors]


@strawberry.type
class RecordMutations:
    @strawberry.mutation(
        description="Idempotent by (sourceUnit, decisionNumber). All or nothing: any invalid row rejects the batch with its errors.",
    )
    async def import_records(self, info: Info, records: list[RecordInput]) -> RecordImportResult:
        ctx = info.context
        result = await ctx.db.run(
            lambda conn: record_service.import_records(
                conn,
                [_record_item(r) for r in records],
                actor=ctx.principal.subject,
                own_unit=ctx.rows.writing_unit(),
                today=ctx.today,
                calendar=work_calendar(info),
                pii=ctx.pii,
                parse_subject_id=_subject_pk,
            )
        )
        if result.errors:
            return RecordImportResult(
                created=0, unchanged=0, errors=_errors(result.errors, info.context.language), records=[]
            )
        found_rows = await ctx.loaders.record_by_id.load_many(result.record_ids)
        ctx.seen_subjects.update(r.subject_id for r in found_rows if r)
        return RecordImportResult(
            created=result.created,
            unchanged=result.unchanged,
            errors=[],
            records=[await CreditRecord.checked(r, info) for r in found_rows if r is not None],
        )

    @strawberry.mutation(
        description="Create or update subjects, e.g. to link an organization to its legal representative.",
    )
    async def upsert_subjects(self, info: Info, subjects: list[SubjectInput]) -> list[Subject]:
        ctx = info.context
        if len(subjects) > imports.MAX_BATCH:  # before any of them is parsed
            raise BadUserInput(f"at most {imports.MAX_BATCH} subjects a call", field="subjects")
        items: list[SubjectUpsert] = []
        for index, item in enumerate(subjects):
            try:
                ref = subject_key(item.ref, today=ctx.today, field=f"subjects[{index}].ref")
                rep = (
                    subject_key(
                        item.legal_representative, today=ctx.today, field=f"subjects[{index}].legalRepresentative"
                    )
                    if item.legal_representative
                    else None
                )
            except InvalidField as bad:
                raise BadUserInput(f"{bad.field}: {bad.message}", field=bad.field, index=index) from None
            if not item.name.strip():
                raise BadUserInput("name must not be empty", field=f"subjects[{index}].name", index=index)
            items.append(SubjectUpsert(index, ref, item.name.strip(), item.region_code, rep))
        ids = await ctx.db.run(
            lambda conn: subject_service.upsert_subjects(
                conn, items, today=ctx.today, calendar=work_calendar(info), pii=ctx.pii
            )
        )
        rows = await ctx.loaders.subject_by_id.load_many(ids)
        return [Subject.from_row(r, info) for r in rows if r is not None]

    @strawberry.mutation
    async def revoke_record(self, info: Info, id: strawberry.ID, reason: str) -> CreditRecord:
        ctx = info.context
        type_name, pk = parse_global_id(id)
        row = await ctx.loaders.record_by_id.load(pk) if type_name == "CreditRecord" else None
        await ctx.db.run(
            lambda conn: record_service.revoke_record(
                conn, row, reason, own_unit=ctx.rows.writing_unit(), today=ctx.today, calendar=work_calendar(info)
            )
        )
        ctx.loaders.record_by_id.clear(pk)
        updated = await ctx.loaders.record_by_id.load(pk)
        assert updated is not None
        ctx.seen_subjects.add(updated.subject_id)
        return await CreditRecord.checked(updated, info)

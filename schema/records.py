"""Credit records (信用信息): the CreditRecord node and its connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.publicity import HARM_ELIMINATED, is_published
from domain.records import LABOR_CONTRACT_ATTESTED
from schema import paging
from schema.common import LegalBasis, Node, PageInfo, legal_basis_from_text
from schema.context import Info, path_of
from schema.enums import RecordCategory, RecordStatus, RecordType, Severity
from schema.errors import Forbidden, NotFound
from schema.ids import global_id, record_cursor
from store.records import RecordPage, RecordRow
from store.subjects import SubjectRow

# A subject lists its records, so subjects.py stands above this module and imports it. The one way back, a
# record's subject, names the type by its module instead: the schema resolves the reference when it is built,
# and the resolver asks the same reference for the class.
_SUBJECT: strawberry.LazyType[Any, Any] = strawberry.LazyType("Subject", "schema.subjects")


@strawberry.type
class CreditRecord(Node):
    row: strawberry.Private[RecordRow]
    category: RecordCategory
    type: RecordType
    severity: Severity | None
    status: RecordStatus
    title: str
    decision_number: str = strawberry.field(description="文书号, unique per source unit.")
    source_unit: str = strawberry.field(description="原行政行为作出单位.")
    occurred_on: date | None
    decided_on: date
    publicity_until: date | None
    penalty_fulfilled: bool | None
    corrected_on: date | None
    version: int = strawberry.field(description="1 for the original record; a correction is a new version.")

    @classmethod
    def of_visible_subject(cls, row: RecordRow, info: Info) -> CreditRecord:
        """A record reached through a subject the caller may see: only the record rule is left to check."""
        if not info.context.rows.allows_record(row, subject_allowed=True):
            raise Forbidden("Forbidden: this record is outside what the caller may see")
        return cls._build(row)

    @classmethod
    async def checked(cls, row: RecordRow, info: Info) -> CreditRecord:
        """A record reached directly (node, grade basis, restriction source): its subject is checked too."""
        subject = await info.context.loaders.subject_by_id.load(row.subject_id)
        allowed = subject is not None and info.context.rows.allows_subject(subject)
        if not info.context.rows.allows_record(row, subject_allowed=allowed):
            raise Forbidden("Forbidden: this record is outside what the caller may see")
        info.context.seen_subjects.add(row.subject_id)
        return cls._build(row)

    @classmethod
    async def visible(cls, row: RecordRow | None, info: Info) -> CreditRecord | None:
        """A record looked up by id: one outside the row rule answers exactly as an unknown one (null); the audit
        entry records the refusal."""
        if row is None:
            return None
        subject = await info.context.loaders.subject_by_id.load(row.subject_id)
        allowed = subject is not None and info.context.rows.allows_subject(subject)
        if not info.context.rows.allows_record(row, subject_allowed=allowed):
            info.context.hide(path_of(info))
            return None
        return await cls.checked(row, info)

    @classmethod
    def _build(cls, row: RecordRow) -> CreditRecord:
        return cls(
            row=row,
            id=strawberry.ID(global_id("CreditRecord", row.id)),
            category=RecordCategory(row.category),
            type=RecordType(row.type),
            severity=Severity(row.severity) if row.severity else None,
            status=RecordStatus(row.status),
            title=row.title,
            decision_number=row.decision_number,
            source_unit=row.source_unit,
            occurred_on=row.occurred_on,
            decided_on=row.decided_on,
            publicity_until=row.publicity_until,
            penalty_fulfilled=row.penalty_fulfilled,
            corrected_on=row.corrected_on,
            version=row.version,
        )

    @strawberry.field
    def legal_basis(self) -> LegalBasis | None:
        return legal_basis_from_text(self.row.legal_basis) if self.row.legal_basis else None

    @strawberry.field(
        description="WG art. 9(2) (舞人社〔2022〕127号 第九条第（二）项): a designation attested for the labor-contract "
        "condition; null when not said (details.labor_contract_attested)."
    )
    def labor_contract_attested(self) -> bool | None:
        return _flag(self.row.details, LABOR_CONTRACT_ATTESTED)

    @strawberry.field(
        description="SH art. 5(2) (沪人社规〔2023〕26号 第五条第（二）项): the party eliminated or mitigated the harm of "
        "the violation, so the penalty is not dishonesty information; null when not said (details.harm_eliminated)."
    )
    def harm_eliminated(self) -> bool | None:
        return _flag(self.row.details, HARM_ELIMINATED)

    @strawberry.field(
        description=(
            "The last day the record is published (inclusive): publicityUntil, or when the source unit gave none, "
            "the longest window the national rule allows (国家发展改革委令2025年第36号: serious dishonesty 3 years, "
            "general 1 year; a wage-arrears listing its whole listing term, 人力资源社会保障部令第45号). Null: not "
            "published (basic and enhancing information, a penalty excepted by 沪人社规〔2023〕26号 第五条第（二）项, "
            "minor information, a court's defaulter listing without a window). A repair or revocation ends "
            "publication earlier: see published."
        )
    )
    def published_until(self) -> date | None:
        return self.row.publication_end

    @strawberry.field(
        description="True while the record is inside its publicity window (publishedUntil) and neither repaired nor "
        "revoked."
    )
    def published(self, info: Info) -> bool:
        r = self.row
        return is_published(r.status, r.decided_on, r.publication_end, info.context.today)

    @strawberry.field(
        description=(
            "Free-form particulars of the decision; may name people, so it is guarded like personal information."
        ),
    )
    def details(self) -> JSON | None:
        value: Any = self.row.details
        return value  # type: ignore[no-any-return]

    @strawberry.field(graphql_type=_SUBJECT)
    async def subject(self, info: Info) -> Node:
        row = await info.context.loaders.subject_by_id.load(self.row.subject_id)
        if row is None:  # a foreign key guarantees it; this would be a broken database
            raise NotFound("subject not found")
        # Subject.from_row: every subject in a response comes through it.
        from_row: Callable[[SubjectRow, Info], Node] = _SUBJECT.resolve_type().from_row
        return from_row(row, info)


@strawberry.type
class CreditRecordEdge:
    node: CreditRecord
    cursor: str


@strawberry.type
class CreditRecordConnection:
    edges: list[CreditRecordEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, page: RecordPage, info: Info) -> CreditRecordConnection:
        edges = [
            CreditRecordEdge(node=CreditRecord.of_visible_subject(r, info), cursor=record_cursor(r.decided_on, r.id))
            for r in page.rows
        ]
        return cls(edges=edges, page_info=paging.page_info(page, [e.cursor for e in edges]), total_count=page.total)


def _flag(details: Any, key: str) -> bool | None:
    value = details.get(key) if isinstance(details, dict) else None
    return value if isinstance(value, bool) else None

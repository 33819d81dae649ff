"""Grades (WG art. 8-13), supervision and measures (WG art. 14-17, SH art. 8)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import strawberry

from domain import supervision as supervision_rules
from domain.model import Citation, GradeDecision
from domain.taxonomy import GradeLevel, InspectionLevel
from schema.common import LegalBasis
from schema.context import Info
from schema.records import CreditRecord
from store.grading import GradeRow

strawberry.enum(InspectionLevel)


@strawberry.enum
class MeasureKind(StrEnum):
    INCENTIVE = "INCENTIVE"
    PUNISHMENT = "PUNISHMENT"


def legal_basis(c: Citation) -> LegalBasis:
    return LegalBasis(document=c.document, article=c.article, text=c.text)


@strawberry.type
class Measure:
    kind: MeasureKind
    description: str
    legal_basis: LegalBasis


def _measures(decision: GradeDecision) -> list[Measure]:
    return [
        Measure(kind=MeasureKind(m.kind), description=m.description, legal_basis=legal_basis(m.legal_basis))
        for m in supervision_rules.measures_for(decision)
    ]


def decision_of(row: GradeRow, as_of: date) -> GradeDecision:
    """The stored segment as the domain's decision, for the measures and supervision tables."""
    return GradeDecision(
        level=GradeLevel(row.level),
        as_of=as_of,
        cycle_start=date(as_of.year, 1, 1),
        cycle_end=date(as_of.year, 12, 31),
        rule=Citation(document=row.rule_document, article=row.rule_article, text=row.rule_text),
        basis=tuple(row.basis_record_ids),
        explanation=row.explanation,
        disputed=row.disputed,
    )


@strawberry.type
class Grade:
    row: strawberry.Private[GradeRow]
    level: GradeLevel
    as_of: date
    cycle_start: date
    cycle_end: date
    evaluated_at: datetime
    valid_from: date = strawberry.field(description="The first day this grade held.")
    valid_to: date | None = strawberry.field(description="The first day it no longer held (null: still holds).")
    disputed: bool = strawberry.field(
        description="True while an objection against a record that decided it is being handled."
    )

    @classmethod
    def from_row(cls, row: GradeRow, as_of: date) -> Grade:
        # WG art. 13: the evaluation cycle is one year; the cycle is the calendar year of the as-of date.
        return cls(
            row=row,
            level=GradeLevel(row.level),
            as_of=as_of,
            cycle_start=date(as_of.year, 1, 1),
            cycle_end=date(as_of.year, 12, 31),
            evaluated_at=row.evaluated_at,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            disputed=row.disputed,
        )

    @strawberry.field(description="The rule that decided the grade.")
    def rule(self) -> LegalBasis:
        return LegalBasis(document=self.row.rule_document, article=self.row.rule_article, text=self.row.rule_text)

    @strawberry.field(description="The records that decided the grade.")
    async def basis(self, info: Info) -> list[CreditRecord]:
        rows = await info.context.loaders.record_by_id.load_many(self.row.basis_record_ids)
        return [await CreditRecord.checked(r, info) for r in rows if r is not None]

    @strawberry.field(
        description="A sentence a person can read, in Chinese, saying why.",
    )
    def explanation(self) -> str:
        return self.row.explanation

    @strawberry.field
    def measures(self) -> list[Measure]:
        return _measures(decision_of(self.row, self.as_of))


@strawberry.type
class Supervision:
    inspection: InspectionLevel
    measures: list[Measure]

    @classmethod
    def for_grade(cls, row: GradeRow | None, as_of: date) -> Supervision | None:
        if row is None:
            return None
        found = supervision_rules.supervision_for(decision_of(row, as_of))
        if found is None:
            return None
        return cls(
            inspection=found.inspection,
            measures=[
                Measure(kind=MeasureKind(m.kind), description=m.description, legal_basis=legal_basis(m.legal_basis))
                for m in found.measures
            ],
        )

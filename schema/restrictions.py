"""Restrictions (SH art. 9): a subject's restrictions in the sectors the caller may see, and the sector measures."""

from __future__ import annotations

from datetime import date

import strawberry

from domain.restrictions import sector_measures
from domain.taxonomy import RecordType, Sector
from schema.common import LegalBasis
from schema.context import Info
from schema.errors import Forbidden
from schema.records import CreditRecord
from store.restrictions import RestrictionRow

strawberry.enum(Sector)

# The most references one screen takes, in the general resolver (screening.py) and the compiled one alike.
MAX_SCREEN = 1000


def visible_sectors(info: Info, sector: Sector | None) -> list[str]:
    """The sectors the caller may see (policy.md: restriction:<sector>); asking for another one is FORBIDDEN."""
    principal = info.context.principal
    if sector is not None:
        if not principal.has(sector.scope):
            raise Forbidden(f"Forbidden: restrictions in {sector.value} need the scope {sector.scope}")
        return [sector.value]
    return [s.value for s in Sector if principal.has(s.scope)]


@strawberry.type
class Restriction:
    row: strawberry.Private[RestrictionRow]
    sector: Sector
    measure: str
    legal_basis: LegalBasis
    since: date
    until: date | None
    exception: str | None
    disputed: bool = strawberry.field(
        description="True while an objection against the source record is being handled: consumers may hold their decision."
    )

    @classmethod
    def from_row(cls, row: RestrictionRow) -> Restriction:
        return cls(
            row=row,
            sector=Sector(row.sector),
            measure=row.measure,
            legal_basis=LegalBasis(document=row.legal_document, article=row.legal_article, text=row.legal_text),
            since=row.since,
            until=row.until,
            exception=row.exception,
            disputed=row.disputed,
        )

    @strawberry.field(
        description="The record that triggers it (for the legal-representative rule: the representative's record).",
    )
    async def source_record(self, info: Info) -> CreditRecord | None:
        if self.row.source_record_id is None:
            return None
        row = await info.context.loaders.record_by_id.load(self.row.source_record_id)
        return await CreditRecord.checked(row, info) if row else None


@strawberry.type
class SectorMeasure:
    sector: Sector
    trigger: RecordType
    measure: str
    legal_basis: LegalBasis


def catalogue_measures() -> list[SectorMeasure]:
    return [
        SectorMeasure(
            sector=sector,
            trigger=trigger,
            measure=measure,
            legal_basis=LegalBasis(document=c.document, article=c.article, text=c.text),
        )
        for sector, trigger, measure, c in sector_measures()
    ]

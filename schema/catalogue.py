"""The published lists (三清单, SH art. 7): record types and the measures they trigger."""

from __future__ import annotations

import strawberry

from domain import taxonomy
from schema.enums import RecordType
from schema.restrictions import SectorMeasure, catalogue_measures


@strawberry.type(description="The published lists (三清单): record types and the measures they trigger.")
class Catalogue:
    @strawberry.field
    def record_types(self) -> list[RecordType]:
        return list(taxonomy.RecordType)

    @strawberry.field(
        description="The joint-punishment measures per sector and their trigger (SH art. 8-9, WG art. 17)."
    )
    def sector_measures(self) -> list[SectorMeasure]:
        return catalogue_measures()

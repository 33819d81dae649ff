"""The published lists (三清单, SH art. 7): record types and, from issue #3, the measures they trigger."""

from __future__ import annotations

import strawberry

from domain import taxonomy
from schema.enums import RecordType


@strawberry.type(description="The published lists (三清单): record types and the measures they trigger.")
class Catalogue:
    @strawberry.field
    def record_types(self) -> list[RecordType]:
        return list(taxonomy.RecordType)

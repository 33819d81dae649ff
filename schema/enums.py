"""The domain's enums, registered with strawberry under their contract names.

``strawberry.enum`` marks the domain class itself, so resolvers use the domain's types directly.
"""

from __future__ import annotations

import strawberry

from domain.taxonomy import GradeLevel, RecordCategory, RecordStatus, RecordType, Severity, SubjectKind

for _enum in (SubjectKind, RecordCategory, RecordType, Severity, RecordStatus, GradeLevel):
    strawberry.enum(_enum)

__all__ = ["GradeLevel", "RecordCategory", "RecordStatus", "RecordType", "Severity", "SubjectKind"]

"""The domain's enums, exposed under their contract names."""

from __future__ import annotations

import strawberry

from domain import taxonomy

SubjectKind = strawberry.enum(taxonomy.SubjectKind)
RecordCategory = strawberry.enum(taxonomy.RecordCategory)
RecordType = strawberry.enum(taxonomy.RecordType)
Severity = strawberry.enum(taxonomy.Severity)
RecordStatus = strawberry.enum(taxonomy.RecordStatus)
GradeLevel = strawberry.enum(taxonomy.GradeLevel)

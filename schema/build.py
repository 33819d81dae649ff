"""Assemble the strawberry schema: the Query root, caches for parsed and validated documents, error masking."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache

from schema import permissions
from schema.audit import AuditExtension
from schema.catalogue import Catalogue
from schema.common import Node
from schema.context import Info
from schema.errors import ExpectedError
from schema.ids import parse_global_id
from schema.records import CreditRecord
from schema.subjects import Subject, SubjectQueries


@strawberry.type
class Query(SubjectQueries):
    @strawberry.field(permission_classes=[permissions.scope("subject:read")])
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = parse_global_id(id)
        if type_name == "Subject":
            subject = await info.context.loaders.subject_by_id.load(pk)
            return Subject.from_row(subject, info) if subject else None
        if type_name == "CreditRecord":
            if not info.context.principal.has("record:read"):
                raise permissions_denied("record:read")
            record = await info.context.loaders.record_by_id.load(pk)
            if record is None:
                return None
            info.context.seen_subjects.add(record.subject_id)
            return CreditRecord.from_row(record)
        return None

    @strawberry.field
    def catalogue(self) -> Catalogue:
        return Catalogue()


def permissions_denied(scope: str) -> GraphQLError:
    from schema.errors import Forbidden

    return Forbidden(f"Forbidden: this field requires the scope {scope}")


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected errors; keep validation errors and our expected ones (they carry a stable code)."""
    original = error.original_error
    if original is None or isinstance(original, ExpectedError):
        return False
    return not (error.extensions or {}).get("code")


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=[Subject, CreditRecord],
        extensions=[
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            lambda: MaskErrors(should_mask_error=_should_mask, error_message="Internal error"),
            AuditExtension,
        ],
    )

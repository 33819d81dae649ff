"""Assemble the strawberry schema: the Query root, caches for parsed and validated documents, error masking."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.responses import Response
from strawberry.extensions import ParserCache

from domain.taxonomy import Sector
from schema import paging, screening
from schema.audit import AuditEntryConnection, AuditExtension, audit_log_page
from schema.catalogue import Catalogue
from schema.common import Node
from schema.context import Context, Info, path_of
from schema.errors import ExpectedError, Forbidden
from schema.ids import parse_audit_cursor, parse_global_id
from schema.limits import RequestLimits, code_token_limit, limit_extensions
from schema.objections import Objection, ObjectionMutations, ObjectionQueries
from schema.records import CreditRecord
from schema.repairs import RepairApplication, RepairMutations
from schema.routing import ReadRouting
from schema.screening import ScreeningReceipt, ScreeningResult
from schema.subjects import Subject, SubjectQueries, SubjectRef
from schema.subscriptions import RestrictionSubscriptions
from schema.validation import DEFAULT_MAX_ERRORS, BoundedValidation, NoNulInStrings
from schema.writes import RecordMutations
from schema.writing import may_see_subject
from store import objections as objection_store
from store import repairs as repair_store
from store import subjects as subject_store
from store.session import DatabaseUnavailable

# The audit log's page: 50 unless asked, at most 500.
AUDIT_PAGE = 50
AUDIT_MAX_PAGE = 500


@strawberry.type
class Query(SubjectQueries, ObjectionQueries):
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        # An object outside the row rule answers null, as an unknown id does: an id proves nothing exists. A type
        # outside the audience's schema is refused whether or not the id exists.
        type_name, pk = parse_global_id(id)
        if type_name == "Subject":
            return Subject.visible(await info.context.loaders.subject_by_id.load(pk), info)
        if type_name == "CreditRecord" and info.schema._schema.get_type("CreditRecord") is not None:
            return await CreditRecord.visible(await info.context.loaders.record_by_id.load(pk), info)
        if type_name == "CreditRecord":
            raise Forbidden("Forbidden: records are outside what the caller may see")
        if type_name in ("Objection", "RepairApplication"):
            return await _objection_or_repair(info, type_name, pk)
        return None

    @strawberry.field(description="The signed-in employer's own subject.")
    async def me(self, info: Info) -> Subject | None:
        uscc = info.context.rows.uscc
        if not uscc:
            return None
        found = await info.context.db.run(lambda conn: subject_store.by_usccs(conn, [uscc]))
        row = found.get(uscc)
        return Subject.from_row(row, info) if row else None

    @strawberry.field(description="The audit log, newest first (SH art. 12); filter by subject or actor.")
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        subject: strawberry.ID | None = None,
        actor: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> AuditEntryConnection:
        window = paging.window(
            first, after, last, before, default=AUDIT_PAGE, maximum=AUDIT_MAX_PAGE, cursor=parse_audit_cursor
        )
        return await audit_log_page(info, window, subject, actor)

    @strawberry.field
    def catalogue(self) -> Catalogue:
        return Catalogue()

    @strawberry.field(
        description="Batch screening: one verdict per reference, in the order sent; at most 1000 references."
    )
    async def screen(
        self, info: Info, sector: Sector, refs: list[SubjectRef], as_of: date | None = None
    ) -> list[ScreeningResult]:
        return await screening.screen(info, sector, refs, as_of)

    @strawberry.field(
        description="screen, with a signed receipt of its verdicts: a procurement file can then prove what the "
        "register said on that day. At most 1000 references; one receipt a request."
    )
    async def screening_receipt(
        self, info: Info, sector: Sector, refs: list[SubjectRef], as_of: date | None = None
    ) -> ScreeningReceipt:
        return await screening.screening_receipt(info, sector, refs, as_of)


@strawberry.type
class Mutation(RecordMutations, ObjectionMutations, RepairMutations):
    pass


async def _objection_or_repair(info: Info, type_name: str, pk: int) -> Node | None:
    """node(id:) for objections and repair applications: only when the audience's schema has the type, and
    through the same row rule as Subject.objections / Subject.repairs (outside it: null, as for an unknown id)."""
    if info.schema._schema.get_type(type_name) is None:
        raise Forbidden(f"Forbidden: {type_name} is outside what the caller may see")
    if type_name == "Objection":
        found_objection = (await info.context.db.run(lambda conn: objection_store.by_ids(conn, [pk]))).get(pk)
        if found_objection is None:
            return None
        if not await may_see_subject(info, found_objection.subject_id):
            info.context.hide(path_of(info))
            return None
        return Objection.from_row(found_objection, info)
    found_repair = (await info.context.db.run(lambda conn: repair_store.by_ids(conn, [pk]))).get(pk)
    if found_repair is None:
        return None
    if not await may_see_subject(info, found_repair.subject_id):
        info.context.hide(path_of(info))
        return None
    return RepairApplication.from_row(found_repair, info)


@strawberry.type
class Subscription(RestrictionSubscriptions):
    pass


_BAD_VARIABLE = re.compile(r"Variable '\$(\w+)' ")


def _unexpected(error: GraphQLError) -> bool:
    """A defect rather than the caller's input or an outage: validation errors and our expected ones carry a
    stable code and are the caller's to read."""
    original = error.original_error
    if original is None or isinstance(original, ExpectedError | DatabaseUnavailable):
        return False
    return not (error.extensions or {}).get("code")


class HrssSchema(strawberry.Schema):
    limits = RequestLimits()

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log unexpected errors only: expected ones (bad input, forbidden, validation) are the caller's."""
        for error in errors:
            code_token_limit(error, self.limits)
            variable = _BAD_VARIABLE.match(error.message)
            if variable and error.path is None and error.original_error is not None and not error.extensions:
                # graphql-core's coercion of the variables: the caller's input, named by the variable.
                error.extensions = {"code": "BAD_USER_INPUT", "field": f"variables.{variable.group(1)}"}
            if isinstance(error.original_error, DatabaseUnavailable):
                # An outage is not a defect: the client is told to retry (HTTP 503, Retry-After).
                error.message = "the database is unavailable; retry shortly"
                error.extensions = {"code": "UNAVAILABLE"}
                context = getattr(execution_context, "context", None)
                if isinstance(context, Context) and isinstance(context.response, Response):
                    context.response.status_code = 503
                    context.response.headers["Retry-After"] = "1"
        unexpected = [e for e in errors if _unexpected(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)
        for error in unexpected:
            # Logged above with its cause; the caller learns only that it is not its fault. Masked here rather
            # than by an extension, so that an error raised by an extension after execution (the audit append)
            # is masked as well.
            error.message = "Internal error"
            error.extensions = {"code": "INTERNAL_SERVER_ERROR"}


def build_schema(
    limits: RequestLimits | None = None, *, hide_suggestions: bool = False, max_errors: int = DEFAULT_MAX_ERRORS
) -> strawberry.Schema:
    """The full schema; ``limits`` bound every request before it executes, ``hide_suggestions`` drops the
    "Did you mean" of validation errors (production)."""
    limits = limits or RequestLimits()
    schema = HrssSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Subject, CreditRecord, Objection, RepairApplication],
        extensions=[
            # The token limit sets the parser's option, so it comes before the parser cache.
            *limit_extensions(limits),
            lambda: ParserCache(maxsize=1024),
            lambda: BoundedValidation(max_errors=max_errors, hide_suggestions=hide_suggestions),
            NoNulInStrings,
            ReadRouting,
            AuditExtension,
        ],
    )
    schema.limits = limits
    return schema

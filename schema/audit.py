"""Every operation that touched credit information leaves a durable audit entry before its response goes out.

An operation-level extension (not a per-field one): after execution it appends who, what (operation, root
fields, subjects returned, fields refused), when and for what purpose. A mutation's entry is written in the
request's own transaction, so that the write and its entry commit together or not at all; a read commits its
transaction first and hands its entry to the process's group writer (store.audit.AuditWriter on
``app.state.audit_writer``), which returns once the entry is durable.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache
from typing import Any

import strawberry
from graphql import DocumentNode, FieldNode, GraphQLSchema, TypeInfo, TypeInfoVisitor, Visitor, visit
from sqlalchemy.exc import DBAPIError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.common import PageInfo
from schema.context import Context, Info
from schema.errors import BadUserInput
from schema.ids import global_id, parse_global_id
from store import audit

SEAL_WAIT_SECONDS = 2.0
_REFUSED_FIELD = re.compile(r"Cannot query field '(\w+)' on type '(\w+)'")
_REFUSED_ARGUMENT = re.compile(r"Unknown argument '(\w+)' on field '(\w+)\.(\w+)'")


@lru_cache(maxsize=2048)
def selected_fields(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> tuple[str, ...]:
    """Every ``Type.field`` the operation selects (fragments included), computed once per cached document."""
    type_info = TypeInfo(schema)
    found: set[str] = set()

    class Collect(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = type_info.get_parent_type()
            if parent is not None and not node.name.value.startswith("__"):
                found.add(f"{parent.name}.{node.name.value}")

    visit(document, TypeInfoVisitor(type_info, Collect()))
    return tuple(sorted(found))


class AuditExtension(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        if not isinstance(ctx, Context):
            return
        try:
            refused = self._refused_by_validation()
            if ctx.db.opened or ctx.seen_subjects or refused:
                await self._record(ctx, refused)
        finally:
            await ctx.db.finish(commit=False)

    def _refused_by_validation(self) -> list[str]:
        """Fields and arguments the caller asked for that its audience's schema does not have (policy.md:
        refused reads); an argument as ``Type.field(argument)``."""
        result = self.execution_context.result
        refused = []
        for error in result.errors or [] if result else []:
            match = _REFUSED_FIELD.search(error.message)
            if match:
                refused.append(f"{match.group(2)}.{match.group(1)}")
            elif argument := _REFUSED_ARGUMENT.search(error.message):
                refused.append(f"{argument.group(2)}.{argument.group(3)}({argument.group(1)})")
        return refused

    def _entry(self, ctx: Context, outcome: str, refused_fields: list[str]) -> audit.AuditEntry:
        ec = self.execution_context
        result = ec.result
        errors = result.errors if result and result.errors else []
        refused = (
            [
                ".".join(str(p) for p in (e.path or []))
                for e in errors
                if (e.extensions or {}).get("code") == "FORBIDDEN"
            ]
            + ctx.hidden
            + refused_fields
        )
        returned: tuple[str, ...] = ()
        if ec.graphql_document is not None and not refused_fields:
            returned = selected_fields(ec.schema._schema, ec.graphql_document, ec.operation_name)
        principal = ctx.principal
        return audit.AuditEntry(
            actor=principal.subject,
            audience=ctx.audience.name,
            operation=ec.operation_name or "anonymous",
            operation_type=ec.operation_type.value if ec.operation_type else "unknown",
            outcome=outcome if not errors else f"{outcome} with {len(errors)} error(s)",
            request_id=ctx.request_id,
            purpose=ctx.purpose,
            subject_ids=ctx.seen_subjects,
            fields_returned=returned,
            fields_refused=refused,
        )

    async def _record(self, ctx: Context, refused_fields: list[str]) -> None:
        result = self.execution_context.result
        writer = _writer(ctx)
        if self.execution_context.operation_type is not OperationType.MUTATION and writer is not None:
            outcome = "ok"
            try:
                await ctx.db.finish(commit=True)
            except DBAPIError:
                # The operation's transaction failed: nothing of it is kept, but the attempt is recorded.
                outcome = "failed"
            await writer.append(self._entry(ctx, outcome, refused_fields))
            return
        if self.execution_context.operation_type is OperationType.MUTATION and result and result.errors:
            # A write that raised keeps nothing of what it did (all or nothing), but the attempt is recorded.
            await ctx.db.finish(commit=False)
            await ctx.db.run(lambda conn: audit.append(conn, self._entry(ctx, "rolled back", refused_fields)))
            await ctx.db.finish(commit=True)
            return
        try:
            await ctx.db.run(lambda conn: audit.append(conn, self._entry(ctx, "ok", refused_fields)))
            await ctx.db.finish(commit=True)
        except DBAPIError:
            # The operation's transaction failed: keep nothing of it, but record that it was attempted.
            await ctx.db.finish(commit=False)
            await ctx.db.run(lambda conn: audit.append(conn, self._entry(ctx, "failed", refused_fields)))
            await ctx.db.finish(commit=True)


def _writer(ctx: Context) -> audit.AuditWriter | None:
    writer = getattr(ctx.request.app.state, "audit_writer", None)
    return writer if isinstance(writer, audit.AuditWriter) else None


@strawberry.type(description="An entry of the append-only, hash-chained audit log (SH art. 12, WG art. 7).")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str
    audience: str | None
    operation: str
    operation_type: str
    subject_ids: list[strawberry.ID]
    fields_returned: list[str]
    fields_refused: list[str]
    purpose: str | None
    outcome: str
    request_id: str | None
    hash: str = strawberry.field(description="SHA-256 of the previous entry's hash and this entry, hex.")

    @classmethod
    def from_row(cls, row: audit.AuditRow) -> AuditEntry:
        return cls(
            id=strawberry.ID(global_id("AuditEntry", row.id)),
            at=row.at,
            actor=row.actor,
            audience=row.audience,
            operation=row.operation,
            operation_type=row.operation_type,
            subject_ids=[strawberry.ID(global_id("Subject", s)) for s in row.subject_ids],
            fields_returned=row.fields_returned,
            fields_refused=row.fields_refused,
            purpose=row.purpose,
            outcome=row.outcome,
            request_id=row.request_id,
            hash=row.hash.hex(),
        )


@strawberry.type
class AuditEntryEdge:
    node: AuditEntry
    cursor: str


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


async def audit_log_page(
    info: Info, first: int | None, after: str | None, subject: strawberry.ID | None, actor: str | None
) -> AuditEntryConnection:
    size = 50 if first is None else first
    if not 0 <= size <= 500:
        raise BadUserInput("first must be between 0 and 500", field="first")
    before_id = None
    if after:
        kind, before_id = parse_global_id(after, field="after")
        if kind != "AuditEntry":
            raise BadUserInput("after is not an audit cursor", field="after")
    subject_id = None
    if subject:
        kind, subject_id = parse_global_id(subject, field="subject")
    if before_id is None:
        # The log lists sealed entries (an unsealed one has no hash yet): give the sealer a moment to chain what
        # was committed before this read, so that the newest page is complete.
        await info.context.db.run(lambda conn: audit.wait_until_sealed(conn, within=SEAL_WAIT_SECONDS))
    rows = await info.context.db.run(
        lambda conn: audit.page(conn, first=size, before_id=before_id, subject_id=subject_id, actor=actor)
    )
    edges = [AuditEntryEdge(node=AuditEntry.from_row(r), cursor=global_id("AuditEntry", r.id)) for r in rows[:size]]
    return AuditEntryConnection(
        edges=edges, page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None)
    )

"""Every operation that touched credit information leaves a durable audit entry before its response goes out.

An operation-level extension (not a per-field one): after execution it says who, what (operation, root fields,
subjects returned, fields refused), when and for what purpose, and whether the operation wrote. The request
boundary then commits and appends the entry together (services.audit.close): a mutation's entry in its own
transaction, a read's through the process's group writer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache
from typing import Any

import strawberry
from graphql import DocumentNode, FieldNode, GraphQLSchema, TypeInfo, TypeInfoVisitor, Visitor, visit
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema import paging
from schema.common import PageInfo
from schema.context import Context, Info
from schema.ids import global_id, parse_global_id
from services import audit as audit_service
from services.audit import PendingAudit
from store import audit
from store.paging import Window

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
    """Says what the operation leaves to record (``ctx.audit``); the HTTP boundary records it together with the
    commit (services.audit.close, from api/graphql.py)."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        if not isinstance(ctx, Context):
            return
        refused = self._refused_by_validation()
        if not (ctx.db.opened or ctx.seen_subjects or refused):
            return
        result = self.execution_context.result
        write = self.execution_context.operation_type is OperationType.MUTATION
        ctx.audit = PendingAudit(
            entry=lambda outcome: self._entry(ctx, outcome, refused),
            write=write,
            failed=write and bool(result and result.errors),
        )
        if isinstance(ctx.request, WebSocket):
            # Over a WebSocket the operation's end is the boundary: its result goes out without a hook after
            # this one, so the entry is made durable here, before it is sent.
            writer = audit_service.process_writer(ctx.request.app.state)
            await audit_service.close(ctx.db, ctx.audit, writer=writer)
            ctx.audit = None

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
            receipt_id=ctx.receipt_id,
        )


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
    receipt_id: str | None = strawberry.field(
        description="The id (jti) of the signed screening receipt this request issued (screeningReceipt)."
    )
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
            receipt_id=row.receipt_id,
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
    info: Info, window: Window[int], subject: strawberry.ID | None, actor: str | None
) -> AuditEntryConnection:
    subject_id = None
    if subject:
        _kind, subject_id = parse_global_id(subject, field="subject")
    if window.after is None and window.before is None and not window.backward:
        # The log lists sealed entries (an unsealed one has no hash yet): give the sealer a moment to chain what
        # was committed before this read, so that the newest page is complete.
        await info.context.db.run(lambda conn: audit.wait_until_sealed(conn, within=SEAL_WAIT_SECONDS))
    page = await info.context.db.run(lambda conn: audit.page(conn, window, subject_id=subject_id, actor=actor))
    edges = [AuditEntryEdge(node=AuditEntry.from_row(r), cursor=global_id("AuditEntry", r.id)) for r in page.rows]
    return AuditEntryConnection(edges=edges, page_info=paging.page_info(page, [e.cursor for e in edges]))

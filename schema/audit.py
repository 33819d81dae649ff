"""Every operation that touched credit information leaves an audit entry, in the request's own transaction.

An operation-level extension (not a per-field one): after execution it appends who, what (operation, root
fields, subjects returned, fields refused), when and for what purpose, then commits the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import FieldNode, OperationDefinitionNode
from sqlalchemy.exc import DBAPIError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.context import Context
from store import audit


class AuditExtension(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        if not isinstance(ctx, Context):
            return
        try:
            if ctx.db.opened or ctx.seen_subjects:
                await self._record(ctx)
        finally:
            await ctx.db.finish(commit=False)

    def _entry(self, ctx: Context, outcome: str) -> audit.AuditEntry:
        ec = self.execution_context
        result = ec.result
        errors = result.errors if result and result.errors else []
        refused = [
            ".".join(str(p) for p in (e.path or [])) for e in errors if (e.extensions or {}).get("code") == "FORBIDDEN"
        ]
        roots: list[str] = []
        operation = next(
            (
                d
                for d in (ec.graphql_document.definitions if ec.graphql_document else ())
                if isinstance(d, OperationDefinitionNode)
                and (ec.operation_name is None or (d.name and d.name.value == ec.operation_name))
            ),
            None,
        )
        if operation is not None:
            roots = [s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        principal = ctx.principal
        return audit.AuditEntry(
            actor=principal.subject,
            audience=principal.client_id,
            operation=ec.operation_name or "anonymous",
            operation_type=ec.operation_type.value if ec.operation_type else "unknown",
            outcome=outcome if not errors else f"{outcome} with {len(errors)} error(s)",
            request_id=ctx.request_id,
            purpose=ctx.purpose,
            subject_ids=ctx.seen_subjects,
            fields_returned=roots,
            fields_refused=refused,
        )

    async def _record(self, ctx: Context) -> None:
        result = self.execution_context.result
        if self.execution_context.operation_type is OperationType.MUTATION and result and result.errors:
            # A write that raised keeps nothing of what it did (all or nothing), but the attempt is recorded.
            await ctx.db.finish(commit=False)
            await ctx.db.run(lambda conn: audit.append(conn, self._entry(ctx, "rolled back")))
            await ctx.db.finish(commit=True)
            return
        try:
            await ctx.db.run(lambda conn: audit.append(conn, self._entry(ctx, "ok")))
            await ctx.db.finish(commit=True)
        except DBAPIError:
            # The operation's transaction failed: keep nothing of it, but record that it was attempted.
            await ctx.db.finish(commit=False)
            await ctx.db.run(lambda conn: audit.append(conn, self._entry(ctx, "failed")))
            await ctx.db.finish(commit=True)

"""Which database an operation's statements go to: a query only reads, so its transaction is READ ONLY and may
run on a hot standby (store.replicas); a mutation, and everything it reads, stays on the primary, so that it reads
its own writes. A subscription stays on the primary too: its events are the primary's notifications, and a
replica could not yet have replayed the change it announces."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.context import Context


class ReadRouting(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and self.execution_context.operation_type is OperationType.QUERY:
            context.db.only_reads()
        yield

"""``hrss-credit documents``: register a frontend's operations as trusted documents of an audience, and list them.

An adapter over services/documents.py: it reads the file, builds the audience's schema (schema/audiences.py),
opens the database and prints; the use case checks and stores the operations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_support import database, err, settings_from_env

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from services.documents import Registered, TrustedDocument

documents_app = typer.Typer(
    help="Trusted documents: the operations an audience may run when HRSS_TRUSTED_DOCUMENTS is on.",
    no_args_is_help=True,
)

EXIT_REFUSED = 2


def _audience_schema(audience: str) -> GraphQLSchema:
    from auth.policy import load_policy
    from schema.audiences import AudienceSchemas
    from schema.build import build_schema

    schemas = AudienceSchemas(build_schema(), load_policy())
    found = schemas.policy.audiences.get(audience)
    if found is None:
        err.print(f"unknown audience {audience}; the policy has {sorted(schemas.policy.audiences)}", markup=False)
        raise typer.Exit(EXIT_REFUSED)
    schema: GraphQLSchema = schemas.get(found, found.scopes)._schema
    return schema


@documents_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A .graphql file.")],
    audience: Annotated[str, typer.Option("--audience", "-a", help="The audience of the policy that runs them.")],
) -> None:
    """Register every operation of FILE for AUDIENCE, once each validates against that audience's schema; prints
    each operation's name and the SHA-256 a client sends as extensions.persistedQuery.sha256Hash."""
    from services import documents
    from services.errors import BadUserInput
    from store.db import create_engine

    schema = _audience_schema(audience)
    try:
        operations = documents.operations_of(file.read_text(encoding="utf-8"), schema, source=file.name)
    except (BadUserInput, UnicodeDecodeError) as exc:
        err.print(f"refused: {getattr(exc, 'message', exc)}", markup=False)
        raise typer.Exit(EXIT_REFUSED) from None

    async def run(url: str) -> Sequence[Registered]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.begin() as conn:
                return await documents.register(conn, operations, audience=audience)
        finally:
            await engine.dispose()

    with database(settings_from_env()) as url:
        registered = asyncio.run(run(url))
    for op in registered:
        state = "registered" if op.new else "already registered"
        typer.echo(f"{op.name or '(anonymous)'}\t{op.operation_type}\t{op.sha256}\t{state}")
    err.print(f"{sum(op.new for op in registered)} of {len(registered)} operations newly trusted for {audience}")


@documents_app.command("list")
def list_documents(
    audience: Annotated[str | None, typer.Option("--audience", "-a", help="Only this audience's documents.")] = None,
) -> None:
    """Print the trusted documents: audience, operation name, type, SHA-256, when registered."""
    from services import documents
    from store.db import create_engine

    async def run(url: str) -> Sequence[TrustedDocument]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                return await documents.list_trusted(conn, audience)
        finally:
            await engine.dispose()

    with database(settings_from_env()) as url:
        found = asyncio.run(run(url))
    for doc in found:
        registered = doc.registered_at.isoformat(timespec="seconds")
        typer.echo(
            f"{doc.audience}\t{doc.operation_name or '(anonymous)'}\t{doc.operation_type}\t{doc.sha256}\t{registered}"
        )

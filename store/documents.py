"""Persisted GraphQL documents by their SHA-256, and the trusted documents of each audience.

A document's row is written once and never changed (the hash is of its text), so concurrent registrations of the
same document by several processes are one upsert that does nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import persisted_documents, trusted_documents


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    audience: str
    sha256: str
    operation_name: str | None
    operation_type: str
    registered_at: datetime


async def document(conn: AsyncConnection, sha256: str) -> str | None:
    """The text of the document whose hash is ``sha256``, if one was stored."""
    query = sa.select(persisted_documents.c.document).where(persisted_documents.c.sha256 == sha256)
    found: str | None = (await conn.execute(query)).scalar_one_or_none()
    return found


async def store(conn: AsyncConnection, sha256: str, text: str) -> None:
    """Keep ``text`` under its hash (the caller computed it); nothing happens when it is kept already."""
    statement = insert(persisted_documents).values(sha256=sha256, document=text)
    await conn.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))


async def trusted(conn: AsyncConnection, audience: str, sha256: str) -> bool:
    """Whether the document is registered as trusted for ``audience``."""
    query = sa.select(sa.literal(True)).where(
        trusted_documents.c.audience == audience, trusted_documents.c.sha256 == sha256
    )
    return bool((await conn.execute(query)).scalar_one_or_none())


async def trust(
    conn: AsyncConnection, *, audience: str, sha256: str, operation_name: str | None, operation_type: str
) -> bool:
    """Register a stored document as trusted for ``audience``; False when it was registered already."""
    statement = (
        insert(trusted_documents)
        .values(audience=audience, sha256=sha256, operation_name=operation_name, operation_type=operation_type)
        .on_conflict_do_nothing(index_elements=["audience", "sha256"])
        .returning(trusted_documents.c.sha256)
    )
    return (await conn.execute(statement)).first() is not None


async def trusted_list(conn: AsyncConnection, audience: str | None) -> Sequence[TrustedDocument]:
    """The trusted documents of one audience (None: of every audience), by audience and operation name."""
    t = trusted_documents.c
    query = sa.select(t.audience, t.sha256, t.operation_name, t.operation_type, t.registered_at).order_by(
        t.audience, t.operation_name, t.sha256
    )
    if audience is not None:
        query = query.where(t.audience == audience)
    return [TrustedDocument(**row._mapping) for row in await conn.execute(query)]

"""Persisted documents and trusted documents: what a client may send by hash, and what an audience may run.

Automatic persisted queries (the Apollo protocol): a client sends ``extensions.persistedQuery.sha256Hash``; the
document is the one stored under that hash, stored the first time the client sent it together with its text.
Trusted documents: in a deployment that runs registered operations only (HRSS_TRUSTED_DOCUMENTS), the bureau
registers each frontend's operations for its audience (``hrss-credit documents add``), checked against that
audience's schema first, so that a registered operation is known to run.

A registered operation is hashed as a client sends it: the operation and the fragments it uses, in the order of
the file, printed the way graphql-js ``print`` prints (graphql-core's ``print_ast`` is its port), which is the
text Apollo Client's persisted-query link hashes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    validate,
    visit,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.errors import BadUserInput
from store import documents as store
from store.documents import TrustedDocument

__all__ = [
    "Registered",
    "TrustedDocument",
    "is_sha256",
    "is_trusted",
    "list_trusted",
    "operations_of",
    "register",
    "remember",
    "sha256_of",
    "stored",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_sha256(value: object) -> bool:
    """A SHA-256 as the protocol sends it: 64 lower-case hex digits."""
    return isinstance(value, str) and _SHA256.match(value) is not None


@dataclass(frozen=True, slots=True)
class Registered:
    """One operation of a registered file: its name, its type, the hash a client sends, and whether it is new."""

    name: str | None
    operation_type: str
    sha256: str
    document: str
    new: bool = False


def _fragments_used(node: OperationDefinitionNode | FragmentDefinitionNode) -> set[str]:
    names: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            names.add(spread.name.value)

    visit(node, Spreads())
    return names


def _operation_document(document: DocumentNode, operation: OperationDefinitionNode) -> DocumentNode:
    """The operation with every fragment it uses, directly or through others, in the file's order."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    needed: set[str] = set()
    pending = _fragments_used(operation)
    while pending:
        name = pending.pop()
        if name in needed or name not in fragments:
            continue
        needed.add(name)
        pending |= _fragments_used(fragments[name])
    kept = [
        d
        for d in document.definitions
        if d is operation or (isinstance(d, FragmentDefinitionNode) and d.name.value in needed)
    ]
    return DocumentNode(definitions=tuple(kept))


def _messages(errors: Sequence[GraphQLError]) -> str:
    return "; ".join(e.message for e in errors[:5])


def operations_of(text: str, schema: GraphQLSchema, *, source: str = "the file") -> list[Registered]:
    """Each operation of ``text`` as a client sends it, checked against the audience's ``schema``.

    Refuses (BadUserInput) a file that does not parse, holds no operation, or holds an operation the schema does
    not validate, naming the operation and the reasons."""
    try:
        document = parse(text)
    except GraphQLError as exc:
        raise BadUserInput(f"{source} is not a GraphQL document: {exc.message}", field="document") from None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise BadUserInput(f"{source} holds no operation", field="document")
    if errors := validate(schema, document):
        raise BadUserInput(
            f"{source} does not validate against the audience's schema: {_messages(errors)}", field="document"
        )
    found = []
    for operation in operations:
        printed = print_ast(_operation_document(document, operation))
        name = operation.name.value if operation.name else None
        found.append(Registered(name, operation.operation.value, sha256_of(printed), printed))
    return found


async def register(conn: AsyncConnection, operations: Sequence[Registered], *, audience: str) -> list[Registered]:
    """Store each operation's document and trust it for ``audience``; ``new`` says which were not registered yet."""
    registered = []
    for op in operations:
        await store.store(conn, op.sha256, op.document)
        new = await store.trust(
            conn, audience=audience, sha256=op.sha256, operation_name=op.name, operation_type=op.operation_type
        )
        registered.append(Registered(op.name, op.operation_type, op.sha256, op.document, new=new))
    return registered


async def list_trusted(conn: AsyncConnection, audience: str | None) -> Sequence[TrustedDocument]:
    return await store.trusted_list(conn, audience)


async def stored(conn: AsyncConnection, sha256: str) -> str | None:
    """The document a client sent before under this hash."""
    return await store.document(conn, sha256)


async def remember(conn: AsyncConnection, sha256: str, text: str) -> None:
    """Keep a document a client sent with its hash; the caller checked that the hash is the text's."""
    await store.store(conn, sha256, text)


async def is_trusted(conn: AsyncConnection, audience: str, sha256: str) -> bool:
    return await store.trusted(conn, audience, sha256)

"""Automatic persisted queries (the Apollo protocol) and trusted documents, at the HTTP boundary.

A request whose ``extensions.persistedQuery`` is ``{version: 1, sha256Hash}``:

- without ``query``: runs the document stored under the hash; an unknown hash is answered with the error Apollo
  clients retry on, ``PersistedQueryNotFound`` (``extensions.code`` ``PERSISTED_QUERY_NOT_FOUND``), after which
  the client sends the hash together with the query;
- with ``query``: the hash must be the SHA-256 of the query (else 400, as Apollo Server answers), and the document
  is stored, once it validates against the caller's schema, in PostgreSQL for every API process.

The documents live in PostgreSQL (services/documents.py) behind a bounded cache in this process, so that the
compiled read lane finds a known hash without a round trip. With trusted documents on (HRSS_TRUSTED_DOCUMENTS),
only the documents registered for the caller's audience run, whether sent by hash or in full, and no request
stores one; any other is refused with ``UNTRUSTED_DOCUMENT`` and an audit entry.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from graphql import GraphQLError, GraphQLSchema, parse, print_ast, validate
from sqlalchemy.ext.asyncio import AsyncEngine

from services import documents
from store.audit import AuditEntry, AuditWriter

K = TypeVar("K")
V = TypeVar("V")

CACHE_ENTRIES = 2048
CACHE_MAX_CHARS = 16_384  # longer documents are read from the database each time: the cache stays small
# Apollo Server's answer to an unknown hash: the retry must reach the server, never a cached copy of this.
NOT_FOUND_CACHE_CONTROL = b"private, no-cache, must-revalidate"


class BoundedCache(Generic[K, V]):
    """Least recently used entries beyond ``size`` are dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class Refusal:
    """A request the protocol refuses before it runs: the HTTP status, the error and its extensions."""

    status: int
    message: str
    extensions: dict[str, object]
    headers: tuple[tuple[bytes, bytes], ...] = ()
    audited: bool = False  # a trusted-documents refusal: it leaves an audit entry


@dataclass
class Resolved:
    """What the request runs: its query (None: the request is refused, ``refusal`` says how)."""

    query: str | None
    changed: bool = False  # the query came from the store: the request must carry it to the view
    refusal: Refusal | None = None
    sha256: str | None = field(default=None)


def _bad_request(message: str) -> Resolved:
    return Resolved(None, refusal=Refusal(400, message, {"code": "BAD_REQUEST", "field": "extensions.persistedQuery"}))


def persisted_hash(extensions: object) -> tuple[str | None, Resolved | None]:
    """The hash a request's extensions name (None: none), or the refusal of a malformed persistedQuery."""
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None, None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        return None, _bad_request("Unsupported persisted query version: extensions.persistedQuery.version must be 1")
    sha256 = persisted.get("sha256Hash")
    if not documents.is_sha256(sha256):
        return None, _bad_request("extensions.persistedQuery.sha256Hash must be 64 lower-case hexadecimal digits")
    return str(sha256), None


class PersistedQueries:
    def __init__(self, engine: AsyncEngine, *, trusted: bool, writer: AuditWriter | None, max_tokens: int) -> None:
        self.engine = engine
        self.trusted = trusted
        self.writer = writer
        self.max_tokens = max_tokens
        self._documents: BoundedCache[str, str] = BoundedCache(CACHE_ENTRIES)
        # Only what is trusted is remembered: a document registered a moment ago by another process is found in
        # the database on its first request here.
        self._trusted: BoundedCache[tuple[str, str], bool] = BoundedCache(CACHE_ENTRIES)

    def applies(self, request: dict[str, Any]) -> bool:
        """Whether the request needs this at all: it names a persisted query, or only trusted documents run."""
        return self.trusted or bool(isinstance(request.get("extensions"), dict) and request["extensions"])

    def cached_query(self, audience: str, request: dict[str, Any]) -> str | None:
        """The query of a request the compiled lane may answer without a round trip: a known hash (with no query
        or its very query), or a query, and with trusted documents on, one known to be trusted. None: the general
        path decides (an unknown hash, a registration, a mismatch, a document not known here to be trusted)."""
        query = request.get("query")
        extensions = request.get("extensions")
        sha256: str | None = None
        if extensions:
            persisted = extensions.get("persistedQuery") if type(extensions) is dict and len(extensions) == 1 else None
            sha256 = persisted.get("sha256Hash") if type(persisted) is dict and persisted.get("version") == 1 else None
            known = self._documents.get(sha256) if type(sha256) is str else None
            if known is None or (query is not None and query != known):
                return None
            query = known
        if not isinstance(query, str):
            return None
        if self.trusted and not self._trusted.get((audience, sha256 or documents.sha256_of(query))):
            return None
        return query

    async def resolve(self, audience: str, request: dict[str, Any], schema: GraphQLSchema) -> Resolved:
        sha256, malformed = persisted_hash(request.get("extensions"))
        if malformed is not None:
            return malformed
        query = request.get("query")
        if sha256 is None:
            if not self.trusted or not isinstance(query, str):
                return Resolved(query if isinstance(query, str) else None)
            return await self._trusted_query(audience, query, documents.sha256_of(query), changed=False)
        if query is None:
            found = await self._stored(sha256)
            if found is None:
                if self.trusted:
                    return self._untrusted(audience, sha256)
                return Resolved(None, refusal=_not_found())
            if self.trusted:
                return await self._trusted_query(audience, found, sha256, changed=True)
            return Resolved(found, changed=True, sha256=sha256)
        if not isinstance(query, str):
            return Resolved(None)  # the view refuses a query that is not a string
        if documents.sha256_of(query) != sha256:
            return Resolved(None, refusal=Refusal(400, "provided sha does not match query", {"code": "BAD_REQUEST"}))
        if self.trusted:
            return await self._trusted_query(audience, query, sha256, changed=False)
        await self._register(sha256, query, schema)
        return Resolved(query, sha256=sha256)

    async def _stored(self, sha256: str) -> str | None:
        found = self._documents.get(sha256)
        if found is None:
            async with self.engine.connect() as conn:
                found = await documents.stored(conn, sha256)
            if found is not None and len(found) <= CACHE_MAX_CHARS:
                self._documents.put(sha256, found)
        return found

    async def _register(self, sha256: str, query: str, schema: GraphQLSchema) -> None:
        """Store a document sent with its hash, once: only one that parses and validates, so that the store
        holds nothing a client could not run (the view answers the errors of any other)."""
        if self._documents.get(sha256) is not None:
            return
        try:
            if validate(schema, parse(query, max_tokens=self.max_tokens), max_errors=1):
                return
        except GraphQLError:
            return
        async with self.engine.begin() as conn:
            await documents.remember(conn, sha256, query)
        if len(query) <= CACHE_MAX_CHARS:
            self._documents.put(sha256, query)

    async def _trusted_query(self, audience: str, query: str, sha256: str, *, changed: bool) -> Resolved:
        """The query, when its document is trusted for the audience as sent or as graphql-js prints it."""
        if self._trusted.get((audience, sha256)):
            return Resolved(query, changed=changed, sha256=sha256)
        candidates = [sha256]
        try:
            printed = documents.sha256_of(print_ast(parse(query, max_tokens=self.max_tokens)))
        except GraphQLError:
            printed = sha256
        if printed != sha256:
            candidates.append(printed)
        async with self.engine.connect() as conn:
            for candidate in candidates:
                if await documents.is_trusted(conn, audience, candidate):
                    self._trusted.put((audience, sha256), True)
                    if changed and len(query) <= CACHE_MAX_CHARS:
                        self._documents.put(sha256, query)
                    return Resolved(query, changed=changed, sha256=sha256)
        return self._untrusted(audience, sha256)

    def _untrusted(self, audience: str, sha256: str) -> Resolved:
        message = (
            f"this operation is not a trusted document of the audience {audience}: only registered operations run "
            "here (hrss-credit documents add)"
        )
        extensions: dict[str, object] = {"code": "UNTRUSTED_DOCUMENT", "sha256Hash": sha256}
        return Resolved(None, refusal=Refusal(403, message, extensions, audited=True), sha256=sha256)

    async def audit_refusal(
        self, refusal: Refusal, *, actor: str, audience: str, operation: object, request_id: str | None,
        purpose: str | None,
    ) -> None:  # fmt: skip
        """A refused untrusted document leaves its entry, as a refused field does: who, which document."""
        if not refusal.audited or self.writer is None:
            return
        entry = AuditEntry(
            actor=actor,
            audience=audience,
            operation=operation if isinstance(operation, str) and operation else "anonymous",
            operation_type="unknown",
            outcome="refused: untrusted document",
            request_id=request_id,
            purpose=purpose,
            fields_refused=(f"document:{refusal.extensions.get('sha256Hash')}",),
        )
        try:
            await self.writer.append(entry)
        except Exception as exc:  # an outage: the refusal still goes out (it returns nothing), and is logged
            structlog.get_logger("hrss_credit.audit").warning("refusal not audited", error=type(exc).__name__)


def _not_found() -> Refusal:
    # Apollo Server answers 200: Apollo Client's link retries with the query on this code, and turns persisted
    # queries off for good on a 400 or 500. With application/graphql-response+json a body without data may not
    # be a 2xx; the view answers 404 then, which the link also retries on.
    return Refusal(
        200,
        "PersistedQueryNotFound",
        {"code": "PERSISTED_QUERY_NOT_FOUND"},
        headers=((b"cache-control", NOT_FOUND_CACHE_CONTROL),),
    )

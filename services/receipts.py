"""Signed screening receipts: what the register answered a screen, on which day, under which rules (SH art. 9).

A procurement file must be able to prove, later and offline, what the register said when the bidders were
screened. A receipt is a compact JWS (RFC 7515, ES256) signed with the API's signing key, the key whose public half
the API publishes at ``/.well-known/jwks.json``, over the screen's question (sector, as-of date), each reference as
the caller sent it with its verdict, the rules in force that day, and when and in which request it was issued.
Its ``jti`` is also in the request's audit entry (store.audit_entry), under the seal of the chain.

A receipt carries nothing the screen did not show the same caller: each reference as the screen echoed it (an ID
number masked unless the caller holds ``subject:pii``), the subject's opaque id only when the screen returned the
subject, and no subject's name. docs/receipts.md says what a receipt proves and what it does not.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from domain.restrictions import sector_rules_in_force
from domain.taxonomy import Sector
from store.restrictions import RestrictionRow

RECEIPT_TYPE = "hrss-screening-receipt+jws"
"""The JWS header's ``typ``: a receipt is never mistaken for an access token or an audit checkpoint."""

RECEIPT_ALGORITHMS = ["ES256"]


class ReceiptSigner(Protocol):
    """What signs a receipt: auth.keys.SigningKeys, the key of the JWKS."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def private_key(self) -> ECKey: ...


@dataclass(frozen=True, slots=True)
class ReceiptKey:
    """The key receipts are signed with and the issuer they name (the API's own, as in its tokens)."""

    signer: ReceiptSigner
    issuer: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """One reference of a screen as the caller got it: ``ref`` as echoed, ``subject`` the subject's opaque id
    when the screen returned it, and the restrictions in force."""

    ref: str
    found: bool
    restricted: bool
    restrictions: Sequence[RestrictionRow]
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedReceipt:
    receipt_id: str
    jws: str


class InvalidReceipt(ValueError):
    """A receipt whose signature, key or content does not hold; the message says which."""


def _restriction(row: RestrictionRow) -> dict[str, Any]:
    return {
        "sector": row.sector,
        "measure": row.measure,
        "since": row.since.isoformat(),
        "until": row.until.isoformat() if row.until else None,
        "exception": row.exception,
        "disputed": row.disputed,
        "legal_basis": {"document": row.legal_document, "article": row.legal_article},
    }


def rules_in_force(sector: Sector, day: date, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """The regulations and articles that decide ``sector`` on ``day`` (domain.restrictions), and any article a
    verdict cites besides: every article a verdict applies is named, and so is every one it was checked against."""
    documents: dict[str, dict[str, Any]] = {}
    articles: dict[tuple[str, str], dict[str, Any]] = {}
    for regulation, rule in sector_rules_in_force(sector, day):
        documents.setdefault(
            regulation.name,
            {
                "document": regulation.name,
                "short": regulation.short,
                "jurisdiction": regulation.jurisdiction,
                "effective_from": regulation.effective_from.isoformat(),
                "effective_to": regulation.effective_to.isoformat() if regulation.effective_to else None,
            },
        )
        citation = rule.citation
        articles.setdefault(
            (citation.document, citation.article),
            {"document": citation.document, "article": citation.article, "short": citation.short},
        )
    for verdict in verdicts:
        for row in verdict.restrictions:
            articles.setdefault(
                (row.legal_document, row.legal_article),
                {"document": row.legal_document, "article": row.legal_article, "short": ""},
            )
    return {"documents": list(documents.values()), "articles": list(articles.values())}


def issue_receipt(
    key: ReceiptKey,
    *,
    sector: Sector,
    as_of: date,
    verdicts: Sequence[Verdict],
    request_id: str | None,
    audience: str,
    now: datetime | None = None,
) -> IssuedReceipt:
    """Sign the receipt of a screen; its id (``jti``) is random, so it names this receipt and no other."""
    receipt_id = str(uuid.uuid4())
    issued_at = (now or datetime.now(UTC)).astimezone(UTC)
    payload = {
        "iss": key.issuer,
        "jti": receipt_id,
        "iat": int(issued_at.timestamp()),
        "request_id": request_id,
        "audience": audience,
        "sector": sector.value,
        "as_of": as_of.isoformat(),
        "results": [
            {
                "ref": v.ref,
                "subject": v.subject,
                "found": v.found,
                "restricted": v.restricted,
                "restrictions": [_restriction(r) for r in v.restrictions],
            }
            for v in verdicts
        ],
        "rules": rules_in_force(sector, as_of, verdicts),
    }
    signer = key.signer
    header = {"alg": signer.alg, "kid": signer.kid, "typ": RECEIPT_TYPE}
    token = jws.serialize_compact(header, orjson.dumps(payload), signer.private_key(), algorithms=[signer.alg])
    return IssuedReceipt(receipt_id, token)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt whose signature holds under the key ``kid``, with its content as signed."""

    receipt_id: str
    issuer: str
    kid: str
    issued_at: datetime
    request_id: str | None
    audience: str | None
    sector: str
    as_of: date
    results: list[dict[str, Any]]
    rules: dict[str, Any]


def receipt_token(text: str) -> str:
    """The JWS of a receipt file: the bare compact JWS, or JSON holding it as ``jws`` (the ``screeningReceipt``
    object, or the whole GraphQL response that carried it)."""
    text = text.strip()
    if not text.startswith("{"):
        return text
    try:
        found: Any = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidReceipt(f"the file is neither a JWS nor JSON: {exc}") from None
    for step in ("data", "screeningReceipt"):
        if isinstance(found, dict) and "jws" not in found and step in found:
            found = found[step]
    if not isinstance(found, dict) or not isinstance(found.get("jws"), str):
        raise InvalidReceipt("the JSON holds no receipt (a string member jws)")
    return str(found["jws"])


def open_receipt(token: str, jwks: Mapping[str, Any]) -> Receipt:
    """Check the signature of a receipt against a JWK Set (as served at ``/.well-known/jwks.json``) and read it;
    raises :class:`InvalidReceipt`."""
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
        signed = jws.deserialize_compact(token.strip(), keys, algorithms=RECEIPT_ALGORITHMS)
        headers = signed.headers()
        if headers.get("typ") != RECEIPT_TYPE:
            raise InvalidReceipt(f"not a screening receipt (typ {headers.get('typ')!r})")
        body = orjson.loads(signed.payload)
        return Receipt(
            receipt_id=str(body["jti"]),
            issuer=str(body["iss"]),
            kid=str(headers.get("kid")),
            issued_at=datetime.fromtimestamp(int(body["iat"]), UTC),
            request_id=body.get("request_id"),
            audience=body.get("audience"),
            sector=str(body["sector"]),
            as_of=date.fromisoformat(body["as_of"]),
            results=list(body["results"]),
            rules=dict(body["rules"]),
        )
    except InvalidReceipt:
        raise
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise InvalidReceipt(f"{type(exc).__name__}: {exc}"[:300]) from exc

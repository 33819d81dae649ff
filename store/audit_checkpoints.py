"""Checkpoints: the chain head signed with the key of the JWKS, kept, exported and opened (store.audit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.ext.asyncio import AsyncConnection

from store.audit_sealing import Head, head
from store.tables import audit_checkpoints

CHECKPOINT_TYPE = "hrss-audit-checkpoint+jws"


class CheckpointSigner(Protocol):
    """What signs a checkpoint: auth.keys.SigningKeys, the key of the JWKS."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def private_key(self) -> ECKey: ...


class InvalidCheckpoint(ValueError):
    """A checkpoint whose signature, key or content does not hold."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain head ``entry_id``/``entry_hash`` as signed at ``signed_at`` by the key ``kid`` of ``issuer``."""

    entry_id: int
    entry_hash: bytes
    signed_at: datetime
    kid: str
    issuer: str
    jws: str

    def export_line(self) -> dict[str, Any]:
        """What the auditor and the city platform keep: the signed JWS, and its content for a reader."""
        return {
            "entry_id": self.entry_id,
            "hash": self.entry_hash.hex(),
            "signed_at": self.signed_at.isoformat(),
            "kid": self.kid,
            "iss": self.issuer,
            "jws": self.jws,
        }


def sign_checkpoint(at: Head, signer: CheckpointSigner, *, issuer: str, now: datetime | None = None) -> Checkpoint:
    signed_at = (now or datetime.now(UTC)).astimezone(UTC)
    payload = {
        "iss": issuer,
        "entry_id": at.entry_id,
        "hash": at.hash.hex(),
        "signed_at": signed_at.isoformat(),
    }
    header = {"alg": signer.alg, "kid": signer.kid, "typ": CHECKPOINT_TYPE}
    token = jws.serialize_compact(header, orjson.dumps(payload), signer.private_key(), algorithms=[signer.alg])
    return Checkpoint(at.entry_id, at.hash, signed_at, signer.kid, issuer, token)


def open_checkpoint(token: str, jwks: dict[str, Any]) -> Checkpoint:
    """Check the signature of a checkpoint against a JWK Set (as served at ``/.well-known/jwks.json``) and read
    it; raises :class:`InvalidCheckpoint`."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        signed = jws.deserialize_compact(token.strip(), keys, algorithms=["ES256"])
        headers = signed.headers()
        if headers.get("typ") != CHECKPOINT_TYPE:
            raise InvalidCheckpoint(f"not an audit checkpoint (typ {headers.get('typ')!r})")
        body = orjson.loads(signed.payload)
        return Checkpoint(
            entry_id=int(body["entry_id"]),
            entry_hash=bytes.fromhex(body["hash"]),
            signed_at=datetime.fromisoformat(body["signed_at"]),
            kid=str(headers.get("kid")),
            issuer=str(body.get("iss", "")),
            jws=token.strip(),
        )
    except InvalidCheckpoint:
        raise
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise InvalidCheckpoint(f"{type(exc).__name__}: {exc}"[:300]) from exc


def checkpoint_tokens(text: str) -> list[str]:
    """The JWS of each line of an exported file (JSON lines of :meth:`Checkpoint.export_line`, or bare JWS)."""
    tokens = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            tokens.append(str(orjson.loads(line)["jws"]))
        else:
            tokens.append(line)
    return tokens


async def store_checkpoint(conn: AsyncConnection, checkpoint: Checkpoint) -> None:
    await conn.execute(
        audit_checkpoints.insert().values(
            entry_id=checkpoint.entry_id,
            entry_hash=checkpoint.entry_hash,
            signed_at=checkpoint.signed_at,
            kid=checkpoint.kid,
            jws=checkpoint.jws,
        )
    )


async def checkpoint(
    conn: AsyncConnection, signer: CheckpointSigner, *, issuer: str, now: datetime | None = None
) -> Checkpoint | None:
    """Sign the current head and store it, in the connection's transaction; None when nothing is sealed yet."""
    at = await head(conn)
    if at is None:
        return None
    signed = sign_checkpoint(at, signer, issuer=issuer, now=now)
    await store_checkpoint(conn, signed)
    return signed


async def stored_checkpoint_tokens(conn: AsyncConnection, *, after_entry: int | None = None) -> list[str]:
    query = sa.select(audit_checkpoints.c.jws).order_by(audit_checkpoints.c.id)
    if after_entry is not None:
        query = query.where(audit_checkpoints.c.entry_id > after_entry)
    return [r.jws for r in await conn.execute(query)]


async def latest_checkpoint(conn: AsyncConnection) -> tuple[int, datetime] | None:
    """The entry and time of the newest stored checkpoint."""
    c = audit_checkpoints.c
    row = (await conn.execute(sa.select(c.entry_id, c.signed_at).order_by(c.id.desc()).limit(1))).first()
    return None if row is None else (row.entry_id, row.signed_at)

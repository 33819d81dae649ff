"""The built-in authorization server's login state: authorization codes and shared keys.

Authorization codes (``auth_codes``) are kept under their SHA-256, computed by the caller, so a code never
reaches the database in clear. :func:`take_code` is the one exchange a code allows: one ``UPDATE`` marks it
spent and returns it, so of two concurrent exchanges, at one process or at two, exactly one gets the grant.
A spent code stays until it expires, so that a replay can be told from a code that never existed. Times are
passed in, never read from the database's clock, so that the caller decides what "now" is.

Shared secrets (``auth_secrets``) are created once: each process offers a fresh value with ``INSERT ... ON
CONFLICT DO NOTHING`` and then reads whichever value won, so that every process ends up with the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import auth_codes, auth_secrets

__all__ = ["StoredCode", "TakenCode", "count_codes", "save_code", "shared_secret", "stored_secret", "take_code"]


@dataclass(frozen=True, slots=True)
class StoredCode:
    """What an authorization code stands for (RFC 6749 §4.1.2, RFC 7636 §4.4)."""

    client_id: str
    redirect_uri: str
    redirect_uri_param: str | None
    scope: str
    username: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TakenCode:
    """The outcome of presenting a code: its grant if it was live, and whether it had been used before."""

    code: StoredCode | None
    replayed: bool


_COLUMNS = (
    auth_codes.c.client_id,
    auth_codes.c.redirect_uri,
    auth_codes.c.redirect_uri_param,
    auth_codes.c.scope,
    auth_codes.c.username,
    auth_codes.c.code_challenge,
    auth_codes.c.code_challenge_method,
    auth_codes.c.expires_at,
)


async def save_code(conn: AsyncConnection, code_hash: bytes, code: StoredCode, *, now: datetime) -> None:
    """Store a new code; codes that expired by ``now`` go (the index on ``expires_at`` keeps it cheap)."""
    await conn.execute(sa.delete(auth_codes).where(auth_codes.c.expires_at <= now))
    values = {column.name: getattr(code, column.name) for column in _COLUMNS}
    await conn.execute(sa.insert(auth_codes).values(code_hash=code_hash, **values))


async def take_code(conn: AsyncConnection, code_hash: bytes, *, now: datetime) -> TakenCode:
    """Mark the code spent and return its grant, when it exists, is unspent and has not expired by ``now``.

    Whatever the outcome, the code cannot be exchanged afterwards (RFC 6749 §4.1.2, §10.5): an expired code
    is spent as well. Under READ COMMITTED a concurrent second ``UPDATE`` waits for the first and then finds
    ``spent_at`` set, so it returns nothing.
    """
    taken = (
        sa.update(auth_codes)
        .where(auth_codes.c.code_hash == code_hash, auth_codes.c.spent_at.is_(None))
        .values(spent_at=now)
        .returning(*_COLUMNS)
    )
    row = (await conn.execute(taken)).one_or_none()
    if row is None:
        spent = sa.select(sa.literal(True)).where(auth_codes.c.code_hash == code_hash)
        return TakenCode(None, replayed=(await conn.execute(spent)).scalar_one_or_none() is not None)
    code = StoredCode(**row._mapping)
    return TakenCode(code if code.expires_at > now else None, replayed=False)


async def count_codes(conn: AsyncConnection) -> int:
    """How many codes are stored, spent or not (for tests and diagnostics)."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(auth_codes))).scalar_one())


async def shared_secret(conn: AsyncConnection, name: str, candidate: str) -> str:
    """The secret stored as ``name``; when there is none yet, ``candidate`` becomes it. Every caller gets the
    same value, whichever process offered it first."""
    offer = insert(auth_secrets).values(name=name, value=candidate).on_conflict_do_nothing(index_elements=["name"])
    await conn.execute(offer)
    stored: str = (await conn.execute(sa.select(auth_secrets.c.value).where(auth_secrets.c.name == name))).scalar_one()
    return stored


async def stored_secret(conn: AsyncConnection, name: str) -> str | None:
    """The secret stored as ``name``, or ``None`` when no process has created it yet."""
    query = sa.select(auth_secrets.c.value).where(auth_secrets.c.name == name)
    value: str | None = (await conn.execute(query)).scalar_one_or_none()
    return value

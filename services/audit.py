"""The audit log's use cases: closing a request's unit of work together with its entry (SH art. 12, WG art. 7),
sealing the chain and signing its checkpoints by hand, exporting them, and verifying the chain against them.

The request boundary (api/graphql.py for HTTP) calls :func:`close` once the operation has run and before the
response goes out, so that no response leaves without its durable entry:

- a write's entry is appended in the write's own transaction, and both commit together or not at all; a write
  that raised keeps nothing, and its attempt is recorded in a transaction of its own;
- a read commits its transaction first (a read may have recomputed a queued subject, services.grading), gives
  its connection back, then hands its entry to the process's group writer, which returns once it is durable.

The commands (``hrss-credit audit``) call the others. :func:`seal_now` runs its own transactions on the
connection it is given: the sealer lock belongs to the session, held across the short transactions of a sealing
pass (store.audit.seal), and is given up whatever becomes of the pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import audit
from store.audit import AuditEntry, AuditWriter
from store.session import RequestDb


@dataclass(frozen=True, slots=True)
class PendingAudit:
    """What the operation leaves for the boundary to record."""

    entry: Callable[[str], AuditEntry]  # the entry, for an outcome ("ok", "failed", "rolled back")
    write: bool  # a mutation: its entry commits with it
    failed: bool  # a mutation that raised: nothing of it is kept


def process_writer(state: object) -> AuditWriter | None:
    """The process's group writer, kept on the app's state by the lifespan (None before it starts)."""
    writer = getattr(state, "audit_writer", None)
    return writer if isinstance(writer, AuditWriter) else None


async def close(db: RequestDb, pending: PendingAudit | None, *, writer: AuditWriter | None) -> None:
    """Commit (or roll back) the request's transaction and make its entry durable; an operation that touched no
    credit information (``pending`` None) only gives its connection back."""
    if pending is None:
        await db.finish(commit=False)
        return
    if not pending.write and writer is not None:
        outcome = "ok"
        try:
            await db.finish(commit=True)
        except DBAPIError:
            # The operation's transaction failed: nothing of it is kept, but the attempt is recorded.
            outcome = "failed"
        await writer.append(pending.entry(outcome))
        return
    if pending.failed:
        await db.finish(commit=False)
        await _append_alone(db, pending.entry("rolled back"))
        return
    try:
        await db.run(lambda conn: audit.append(conn, pending.entry("ok")))
        await db.finish(commit=True)
    except DBAPIError:
        await db.finish(commit=False)
        await _append_alone(db, pending.entry("failed"))


async def verify_chain(
    conn: AsyncConnection, kept: Sequence[tuple[str, str]], public: Mapping[str, object] | None
) -> tuple[audit.ChainReport, list[str], int]:
    """Walk the sealed chain and check it against the checkpoints kept outside the database (``kept``: where
    each came from, and its JWS) and, when there is a key to check them with (``public``, a JWK Set), those
    stored in it. Returns the chain's report, the checkpoints that could not be opened (with where they came
    from), and how many checkpoints the database holds."""
    stored = await audit.stored_checkpoint_tokens(conn)
    sources = [*kept, *([(f"stored checkpoint {n}", t) for n, t in enumerate(stored, 1)] if public else [])]
    opened: list[audit.Checkpoint] = []
    problems: list[str] = []
    for where, token in sources:
        try:
            opened.append(audit.open_checkpoint(token, dict(public or {})))
        except audit.InvalidCheckpoint as exc:
            problems.append(f"{where}: {exc}")
    return await audit.verify(conn, opened), problems, len(stored)


@dataclass(frozen=True, slots=True)
class Sealing:
    """What sealing by hand did: the entries it sealed (None: another session holds the sealer lock, ``holder``
    as PostgreSQL names it, None when it is gone already), the head of the chain after it, and the checkpoint
    signed on that head."""

    sealed: int | None
    holder: str | None
    head: audit.Head | None
    checkpoint: audit.Checkpoint | None


async def audit_lag(engine: AsyncEngine) -> tuple[int, float]:
    """The entries not sealed yet and the age of the oldest, in seconds: how far the chain runs behind the log."""
    async with engine.connect() as conn:
        return await audit.lag(conn)


async def seal_now(
    conn: AsyncConnection, *, signer: audit.CheckpointSigner | None, issuer: str, waiting: Callable[[int], None]
) -> Sealing:
    """Chain the entries not sealed yet, unless another sealer is running (it seals them itself), then sign the
    head with ``signer``, when there is one, and store the checkpoint. ``conn`` is in no transaction; ``waiting``
    is told how many writers a pass waits for, when it waits long (store.audit.seal)."""
    async with conn.begin():
        locked = await audit.try_lock_sealer(conn)
        holder = None if locked else await audit.sealer_holder(conn)
    sealed = None
    if locked:
        try:
            sealed = await audit.seal(conn, waiting=waiting)
        finally:
            async with conn.begin():
                await audit.unlock_sealer(conn)
    signed = None
    async with conn.begin():
        if signer is not None:
            signed = await audit.checkpoint(conn, signer, issuer=issuer)
        at = await audit.head(conn)
    return Sealing(sealed, holder, at, signed)


async def sign_checkpoint(
    conn: AsyncConnection, signer: audit.CheckpointSigner, *, issuer: str
) -> audit.Checkpoint | None:
    """Sign the head of the sealed chain and store the checkpoint, in the caller's transaction; None when nothing
    is sealed yet."""
    return await audit.checkpoint(conn, signer, issuer=issuer)


@dataclass(frozen=True, slots=True)
class ExportedCheckpoint:
    """A stored checkpoint as it is exported: its content spelled out for a reader (``export_line``) when it
    verifies under the key, else its JWS alone; ``problem`` says why it does not verify."""

    line: dict[str, Any]
    problem: str | None = None


async def stored_checkpoints(
    conn: AsyncConnection, *, public: Mapping[str, object] | None, after_entry: int | None = None
) -> list[ExportedCheckpoint]:
    """The stored checkpoints (of entries after ``after_entry``) in the order they were stored, opened with
    ``public`` (a JWK Set) when there is one."""
    exported: list[ExportedCheckpoint] = []
    for token in await audit.stored_checkpoint_tokens(conn, after_entry=after_entry):
        # The content is spelled out for a reader; whoever keeps the line checks the JWS itself.
        if public is None:
            exported.append(ExportedCheckpoint({"jws": token}))
            continue
        try:
            exported.append(ExportedCheckpoint(audit.open_checkpoint(token, dict(public)).export_line()))
        except audit.InvalidCheckpoint as exc:
            exported.append(ExportedCheckpoint({"jws": token}, str(exc)))
    return exported


async def _append_alone(db: RequestDb, entry: AuditEntry) -> None:
    await db.run(lambda conn: audit.append(conn, entry))
    await db.finish(commit=True)

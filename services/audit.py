"""The audit log's use cases: closing a request's unit of work together with its entry (SH art. 12, WG art. 7),
and verifying the chain against its checkpoints.

The request boundary (api/graphql.py for HTTP) calls :func:`close` once the operation has run and before the
response goes out, so that no response leaves without its durable entry:

- a write's entry is appended in the write's own transaction, and both commit together or not at all; a write
  that raised keeps nothing, and its attempt is recorded in a transaction of its own;
- a read commits its transaction first (a read may have recomputed a queued subject, services.grading), gives
  its connection back, then hands its entry to the process's group writer, which returns once it is durable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def _append_alone(db: RequestDb, entry: AuditEntry) -> None:
    await db.run(lambda conn: audit.append(conn, entry))
    await db.finish(commit=True)

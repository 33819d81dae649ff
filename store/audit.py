"""The audit log (SH art. 12, WG art. 7): append-only, hash-chained by one sealer, anchored by signed checkpoints.

Appending takes no lock that another writer waits for: an entry is inserted unsealed (``prev_hash`` and ``hash``
NULL) with the id its identity draws (migration 0011). Two ways in:

- :func:`append` writes an entry inside the caller's transaction, so that a write and its entry commit together
  (mutations).
- :class:`AuditWriter` gathers the entries of concurrent callers into one INSERT in a transaction of its own and
  answers each caller once that transaction is durable (reads): one commit, one WAL flush, for many entries.

Sealing: one :class:`Sealer` at a time across all processes (a session advisory lock held by the sealer alone)
chains the unsealed entries in id order with ``audit_log_seal``. Ids are drawn when a row is inserted, not when
its transaction commits, so a transaction may still commit id 10 after id 11 is visible. :func:`seal` closes that
gap the way the outbox relay does (store.outbox): it reads the highest unsealed id together with every other
transaction holding a write lock on the log, waits until each of those has ended, and only then seals up to that
id, which no transaction can undercut any more.

Checkpoints: the sealer signs the chain head (entry id, hash, time) with the ES256 key whose public half is in
the JWKS, keeps it in ``audit_checkpoints`` and lets ``hrss-credit audit checkpoints`` export it to the auditor
and the city platform. :func:`verify` checks that the chain still passes through every checkpoint it is given,
so a chain recomputed from scratch by the table's owner, who can bypass every trigger, no longer verifies.
docs/audit.md states what each part guarantees.

The parts live in store.audit_entry, store.audit_writer, store.audit_sealing, store.audit_checkpoints,
store.audit_sealer and store.audit_verify; this module gathers their names, so that callers use ``audit.X``
whichever part ``X`` is in, and keeps the reading of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from store import paging
from store.audit_checkpoints import (
    CHECKPOINT_TYPE,
    Checkpoint,
    CheckpointSigner,
    InvalidCheckpoint,
    checkpoint,
    checkpoint_tokens,
    latest_checkpoint,
    open_checkpoint,
    sign_checkpoint,
    store_checkpoint,
    stored_checkpoint_tokens,
)
from store.audit_entry import _INSERT, AuditEntry, append
from store.audit_sealer import Sealer
from store.audit_sealing import (
    GENESIS,
    SEALER_LOCK_KEY,
    Head,
    Horizon,
    head,
    horizon,
    seal,
    seal_up_to,
    sealer_holder,
    try_lock_sealer,
    unlock_sealer,
    unsealed,
    wait_until_sealed,
)
from store.audit_verify import ChainReport, CheckpointFailure, verify
from store.audit_writer import AuditWriter
from store.paging import Page, Window
from store.tables import audit_log

__all__ = [
    "CHECKPOINT_TYPE",
    "GENESIS",
    "SEALER_LOCK_KEY",
    "_INSERT",  # bench.audit_append runs the very statement the log is written with
    "AuditEntry",
    "AuditRow",
    "AuditWriter",
    "ChainReport",
    "Checkpoint",
    "CheckpointFailure",
    "CheckpointSigner",
    "Head",
    "Horizon",
    "InvalidCheckpoint",
    "Sealer",
    "append",
    "checkpoint",
    "checkpoint_tokens",
    "head",
    "horizon",
    "latest_checkpoint",
    "open_checkpoint",
    "page",
    "seal",
    "seal_up_to",
    "sealer_holder",
    "sign_checkpoint",
    "store_checkpoint",
    "stored_checkpoint_tokens",
    "try_lock_sealer",
    "unlock_sealer",
    "unsealed",
    "verify",
    "wait_until_sealed",
]


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: Any
    request_id: str | None
    actor: str
    audience: str | None
    operation: str
    operation_type: str
    subject_ids: list[int]
    fields_returned: list[str]
    fields_refused: list[str]
    purpose: str | None
    outcome: str
    receipt_id: str | None
    hash: bytes


async def page(
    conn: AsyncConnection, window: Window[int], *, subject_id: int | None, actor: str | None
) -> Page[AuditRow]:
    """Sealed entries, newest first (keyset pages by id, store.paging). An entry not chained yet has no hash to
    show: it appears once sealed (see :func:`wait_until_sealed`)."""
    c = audit_log.c
    key = (c.id,)
    query = (
        sa.select(*[c[f] for f in AuditRow.__slots__])
        .where(c.hash.is_not(None), *paging.clauses(key, True, window))
        .order_by(*paging.order(key, True, window))
        .limit(window.limit)
    )
    if subject_id is not None:
        # Containment (@>), not "= ANY": the form the GIN index on subject_ids serves (migration 0015).
        query = query.where(c.subject_ids.contains(sa.cast([subject_id], ARRAY(sa.BigInteger))))
    if actor is not None:
        query = query.where(c.actor == actor)
    rows = [AuditRow(**{f: r._mapping[f] for f in AuditRow.__slots__}) for r in await conn.execute(query)]
    return paging.settle(rows, lambda r: r.id, window)

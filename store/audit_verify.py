"""Verification: the chain walked in id order, and checked against the checkpoints given (store.audit)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.audit_checkpoints import Checkpoint
from store.audit_sealing import Head


@dataclass(frozen=True, slots=True)
class CheckpointFailure:
    entry_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """``entries`` sealed entries walked, ``first_broken_id`` the first that does not hold (an entry left out of
    the chain counts), ``unsealed`` entries not chained yet, ``checkpoints`` checked against the chain."""

    entries: int
    first_broken_id: int | None
    unsealed: int = 0
    head: Head | None = None
    checkpoints: int = 0
    checkpoint_failures: tuple[CheckpointFailure, ...] = ()

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None and not self.checkpoint_failures


_WALK = sa.text(
    """
    SELECT id, hash,
           prev_hash = coalesce(lag(hash) OVER (ORDER BY id), decode(repeat('00', 32), 'hex'))
             AND hash = audit_entry_digest(prev_hash, audit_log) AS ok
    FROM audit_log ORDER BY id
    """
)


async def verify(conn: AsyncConnection, checkpoints: Iterable[Checkpoint] = ()) -> ChainReport:
    """Walk the chain in id order: every sealed entry links to the one before and its digest holds, sealed
    entries come before unsealed ones, and the chain passes through every checkpoint (the entry it names exists,
    is sealed, and has the hash that was signed)."""
    wanted: dict[int, list[Checkpoint]] = {}
    for c in checkpoints:
        wanted.setdefault(c.entry_id, []).append(c)
    count = unsealed_count = 0
    first_broken: int | None = None
    first_unsealed: int | None = None
    last: Head | None = None
    failures: list[CheckpointFailure] = []
    checked = 0
    rows = await conn.stream(_WALK.execution_options(yield_per=5000))
    async for r in rows:
        if r.hash is None:
            unsealed_count += 1
            if first_unsealed is None:
                first_unsealed = r.id
        else:
            count += 1
            last = Head(r.id, r.hash)
            if first_broken is None and (first_unsealed is not None or not r.ok):
                first_broken = first_unsealed if first_unsealed is not None else r.id
        for c in wanted.pop(r.id, ()):
            checked += 1
            if r.hash is None:
                failures.append(CheckpointFailure(c.entry_id, "the entry is not sealed"))
            elif r.hash != c.entry_hash:
                failures.append(CheckpointFailure(c.entry_id, "the entry's hash is not the one signed"))
    for entry_id, missing in wanted.items():
        checked += len(missing)
        failures.extend(CheckpointFailure(entry_id, "the entry is missing") for _ in missing)
    failures.sort(key=lambda f: f.entry_id)
    return ChainReport(
        entries=count,
        first_broken_id=first_broken,
        unsealed=unsealed_count,
        head=last,
        checkpoints=checked,
        checkpoint_failures=tuple(failures),
    )

"""The background sealer of an API process: seals while it holds the sealer lock, stands by otherwise
(store.audit)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.access_log import merge_index
from store.audit_checkpoints import CheckpointSigner, latest_checkpoint, sign_checkpoint, store_checkpoint
from store.audit_sealing import head, seal, try_lock_sealer, unlock_sealer

log = structlog.get_logger("hrss_credit.audit")


class Sealer:
    """An API process's background sealer: whichever process holds the sealer lock seals, the others stand by
    and try again every ``standby`` seconds, so a sealer that dies is replaced within that time.

    The holder seals whenever it is woken (:meth:`wake`, called by the process's :class:`AuditWriter`) and at
    least every ``interval`` seconds; after a pass that sealed something it rests ``rest`` seconds, so that
    under load each pass (a few statements and a commit) chains a batch, not an entry. With a ``signer`` it
    stores a checkpoint of the head when there is none and then every ``checkpoint_every`` seconds while the
    head moves. Every ``merge_every`` seconds it merges the pending list of the log's subject index
    (store.access_log.merge_index), so that no request's append ever does. Give it an engine of its own (one connection, an ``application_name`` that names it): it never
    takes a request's connection, and its session, which holds the lock, is never handed to anyone else.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: CheckpointSigner | None = None,
        issuer: str = "",
        interval: float = 0.2,
        rest: float = 0.05,
        standby: float = 2.0,
        checkpoint_every: float = 300.0,
        batch: int = 5000,
        merge_every: float = 10.0,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._issuer = issuer
        self._interval = interval
        self._rest = rest
        self._standby = standby
        self._checkpoint_every = checkpoint_every
        self._batch = batch
        self._merge_every = merge_every
        self._merged_at = 0.0
        self._checked_at = 0.0  # when the entries below the head were last checked (store.audit_sealing.seal)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sealing = False  # whether this process holds the lock now

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="audit-sealer")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        self._wake.set()
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async with self._engine.connect() as conn:
                    async with conn.begin():
                        locked = await try_lock_sealer(conn)
                    if locked:
                        try:
                            await self._seal_while_holding(conn)
                        finally:
                            self.sealing = False
                            with contextlib.suppress(Exception):
                                async with conn.begin():
                                    await unlock_sealer(conn)
            except Exception as exc:  # a dropped connection, a failed pass: stand by, then try again
                log.warning("audit sealer retrying", error=type(exc).__name__, detail=str(exc)[:200])
            # Not woken by appends: a process standing by only asks for the lock again every so often.
            await self._sleep(self._standby)

    async def _seal_while_holding(self, conn: AsyncConnection) -> None:
        self.sealing = True
        while not self._stop.is_set():
            self._wake.clear()
            now = time.monotonic()
            check = now - self._checked_at >= self._merge_every
            if check:
                self._checked_at = now
            sealed = await seal(conn, batch=self._batch, stop=self._stop, waiting=self._waiting, check_below_head=check)
            if self._signer is not None:
                await self._checkpoint_if_due(conn, self._signer)
            await self._merge_if_due(conn)
            if sealed:
                await self._sleep(self._rest)
            else:
                await self._pause(self._interval)

    async def _merge_if_due(self, conn: AsyncConnection) -> None:
        now = time.monotonic()
        if now - self._merged_at < self._merge_every:
            return
        self._merged_at = now
        async with conn.begin():
            await merge_index(conn)

    def _waiting(self, running: int) -> None:
        log.info("audit sealer waiting for open transactions that write to the log", transactions=running)

    async def _checkpoint_if_due(self, conn: AsyncConnection, signer: CheckpointSigner) -> None:
        async with conn.begin():
            last = await latest_checkpoint(conn)
            # The head is looked for only when a checkpoint is due: finding it walks the unsealed entries' index.
            if last is not None and (datetime.now(UTC) - last[1]).total_seconds() < self._checkpoint_every:
                return
            at = await head(conn)
            if at is None or (last is not None and last[0] >= at.entry_id):
                return
            await store_checkpoint(conn, sign_checkpoint(at, signer, issuer=self._issuer))

    async def _pause(self, seconds: float) -> None:
        """Until woken, stopped, or ``seconds`` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _sleep(self, seconds: float) -> None:
        """Until stopped or ``seconds`` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

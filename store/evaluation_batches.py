"""The yearly evaluation (WG art. 13): every subject, in batches, written as ``store.evaluation.recompute`` would.

``evaluate_all`` goes through every subject in batches, each its own transaction (an interrupted run is resumed by
running it again), two at a time on two connections. A batch (``evaluate_batch``) locks and writes only the
subjects whose rows change: one statement (``_TRIAGE``) finds the subjects without records whose rows already are
their kind's bare outcome, which are left alone, and those whose rows differ get it from a single
``INSERT ... SELECT`` (``_Bare``). Applying the rules, comparing the outcome with the current rows and writing it
are store.evaluation's, shared with every write's recomputation; it knows ``_Bare`` only as a ``BareWriter``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.taxonomy import SubjectKind
from domain.workdays import WorkCalendar
from store.evaluation import (
    _DEQUEUE,
    _GRADE_COLUMNS,
    _GRADE_KEY_IDS,
    Evaluator,
    Recomputed,
    _compare,
    _driver,
    _lock,
    _write,
)

EVALUATION_BATCH = 2000  # subjects a transaction of the yearly evaluation
EVALUATION_LANES = 2  # batches under way at once, each on its own connection

# Each subject of the batch, whose ids lie between $2 and $3 (the other tables are read as one range of
# their indexes, and joined by hashing): whether the rules must be applied to it one by one (``evaluated``: it,
# or its representative, has a current record, or it has current restrictions, or its kind's bare outcome is not
# one these statements handle), whether it is restricted or queued, how many current grade rows it has, and
# whether they are its kind's bare outcome (``settled``).
_TRIAGE = """
    WITH batch AS (
      SELECT s.id, s.kind, s.legal_representative_id
      FROM unnest(CAST($1 AS bigint[])) AS i(id) JOIN subjects s ON s.id = i.id
      WHERE s.id BETWEEN $2::bigint AND $3::bigint
    ),
    recorded AS (
      SELECT DISTINCT subject_id FROM credit_records
      WHERE subject_id BETWEEN $2::bigint AND $3::bigint AND superseded_by_id IS NULL
    ),
    restricted AS (
      SELECT DISTINCT subject_id FROM restrictions
      WHERE subject_id BETWEEN $2::bigint AND $3::bigint AND superseded_at IS NULL
    ),
    graded AS (
      -- The bare outcome: the one grade row of the kinds in $5, compared on the columns of _grade_key.
      SELECT subject_id, count(*) AS current, count(*) FILTER (
        WHERE valid_from = CAST($6 AS date) AND valid_to IS NOT DISTINCT FROM CAST($7 AS date)
        AND level = CAST($8 AS text) AND rule_document = CAST($9 AS text)
        AND rule_article = CAST($10 AS text) AND cardinality(basis_record_ids) = 0
        AND disputed = CAST($11 AS boolean)
      ) AS bare
      FROM grades WHERE subject_id BETWEEN $2::bigint AND $3::bigint AND superseded_at IS NULL
      GROUP BY subject_id
    )
    SELECT s.id, s.kind, s.legal_representative_id AS representative,
      (s.kind <> ALL(CAST($4 AS text[])) OR r.subject_id IS NOT NULL OR x.subject_id IS NOT NULL
       OR (SELECT true FROM credit_records c
           WHERE c.subject_id = s.legal_representative_id AND c.superseded_by_id IS NULL LIMIT 1) IS TRUE)
       AS evaluated,
      x.subject_id IS NOT NULL AS restricted,
      q.subject_id IS NOT NULL AS queued,
      coalesce(g.current, 0) AS current,
      (CASE WHEN s.kind = ANY(CAST($5 AS text[])) THEN g.current = 1 AND g.bare = 1 ELSE g.current IS NULL END)
       IS TRUE AS settled
    FROM batch s
    LEFT JOIN recorded r ON r.subject_id = s.id
    LEFT JOIN restricted x ON x.subject_id = s.id
    LEFT JOIN recompute_queue q ON q.subject_id = s.id
    LEFT JOIN graded g ON g.subject_id = s.id
    """


_WRITE_BARE = sa.text(
    """
    INSERT INTO grades (subject_id, level, valid_from, valid_to, cycle_start, cycle_end, rule_document,
                        rule_article, rule_text, basis_record_ids, explanation, disputed)
    SELECT id, CAST(:level AS text), CAST(:valid_from AS date), CAST(:valid_to AS date), CAST(:cycle_start AS date),
           CAST(:cycle_end AS date), CAST(:rule_document AS text), CAST(:rule_article AS text),
           CAST(:rule_text AS text), '{}', CAST(:explanation AS text), CAST(:disputed AS boolean)
    FROM unnest(CAST(:ids AS bigint[])) AS s(id)
    ORDER BY id
    """
)


@dataclass(frozen=True)
class _Bare:
    """The bare outcomes the statements handle: the kinds whose bare outcome is no row at all or the one row
    ``row`` (``graded``), with no restriction; the row's columns, or None, as the statements' parameters."""

    kinds: list[str]
    graded: list[str]
    row: dict[str, Any]

    @classmethod
    def of(cls, evaluator: Evaluator) -> _Bare:
        kinds: list[str] = []
        graded: list[str] = []
        row: dict[str, Any] | None = None
        for kind in SubjectKind:
            outcome = evaluator.bare(kind.value)
            if outcome.restriction_keys:
                continue
            if not outcome.grade_values:
                kinds.append(kind.value)
                continue
            if len(outcome.grade_values) != 1 or outcome.grade_keys[0][_GRADE_KEY_IDS]:
                continue
            values = dict(zip(_GRADE_COLUMNS[1:], outcome.grade_values[0], strict=True))
            if row is None:
                row = values
            if values == row:
                kinds.append(kind.value)
                graded.append(kind.value)
        columns = [c for c in _GRADE_COLUMNS[1:] if c != "basis_record_ids"]
        return cls(kinds, graded, {c: None if row is None else row[c] for c in columns})

    async def write(self, conn: AsyncConnection, ids: Sequence[int]) -> None:
        """Insert the row ``row`` for each of these subjects, in one statement (``_WRITE_BARE``)."""
        await conn.execute(_WRITE_BARE, {**self.row, "ids": list(ids)})

    async def triage(self, conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
        """``_TRIAGE`` of these subjects (in id order); a statement must have run in the transaction already."""
        key = [self.row[f] for f in ("valid_from", "valid_to", "level", "rule_document", "rule_article", "disputed")]
        return list(await (await _driver(conn)).fetch(_TRIAGE, ids, ids[0], ids[-1], self.kinds, self.graded, *key))


async def evaluate_batch(
    conn: AsyncConnection, subject_ids: Iterable[int], *, evaluator: Evaluator, lock_first: bool = False
) -> Recomputed:
    """The yearly evaluation of these subjects, in the caller's transaction: what ``recompute`` would write for
    each of them, and the same status changes.

    The organizations a subject represents are not added: the yearly evaluation evaluates every subject in a
    batch of its own. Subjects without records whose rows differ from their kind's bare outcome get it in one
    statement; the others go through the rules one by one.

    ``lock_first``: lock every subject of the batch first, as ``recompute`` does; for a batch in which most
    subjects are expected to change. Otherwise a subject is locked only when something is to be written for it,
    or it is queued: one whose rows already say what the rules say is neither locked nor written, and a write
    that changes its records meanwhile recomputes it itself, in its own transaction (or queues it). Subjects with
    records and rows are then compared first without a lock, and locked and compared again when they differ.
    """
    ids = sorted(set(subject_ids))
    if not ids:
        return Recomputed(frozenset(), frozenset(), frozenset())
    bare = _Bare.of(evaluator)
    # Not JIT-compiled: the statements of a batch are short, and compiling them costs more than running them.
    await conn.execute(sa.text("SET LOCAL jit = off"))
    evaluated: set[int] = set()
    candidates: list[int] = ids
    if not lock_first:
        unlocked: dict[int, tuple[str, int | None]] = {}
        candidates = []
        for r in await bare.triage(conn, ids):
            if r["queued"]:
                evaluated.add(r["id"])
            elif r["evaluated"]:
                if r["current"] or r["restricted"]:
                    unlocked[r["id"]] = (r["kind"], r["representative"])
                else:  # never evaluated: it changes, unless the rules decide nothing for it
                    evaluated.add(r["id"])
            elif not r["settled"]:
                candidates.append(r["id"])
        if unlocked:
            ahead = await _compare(conn, unlocked, evaluator)
            evaluated |= ahead.grades_changed | ahead.restrictions_changed
        if not evaluated and not candidates:
            return Recomputed(frozenset(ids), frozenset(), frozenset())
    work = sorted(evaluated.union(candidates))
    locked = await _lock(conn, work)
    await conn.execute(_DEQUEUE, {"ids": work})
    # Read (again) now that they are locked: a write may have changed their records since.
    found = await _compare(conn, locked, evaluator, bare=bare)
    await _write(conn, found, bare)
    return Recomputed(
        frozenset(ids), frozenset(found.grades_changed), frozenset(found.restrictions_changed), tuple(found.changes)
    )


async def evaluate_all(
    engine: AsyncEngine,
    subject_ids: Sequence[int],
    *,
    calendar: WorkCalendar,
    today: date,
    batch: int = EVALUATION_BATCH,
    lanes: int = EVALUATION_LANES,
    on_batch: Callable[[Recomputed], None] | None = None,
) -> None:
    """The yearly evaluation (WG art. 13) of these subjects: ``batch`` at a time, each batch its own transaction
    (``evaluate_batch``), ``lanes`` batches under way at once on connections of their own (the engine's pool must
    hold them), so that PostgreSQL works on one batch while this process applies the rules to another.
    ``on_batch`` is told of every committed batch.

    A batch in which most subjects changed is followed by batches that lock first: a first evaluation changes
    nearly every subject, and reading each batch once before the lock and once after would be wasted; a
    re-evaluation changes few, and the batches after one that changed few lock only what changes."""
    evaluator = Evaluator(calendar, today)
    chunks: Iterator[Sequence[int]] = (subject_ids[i : i + batch] for i in range(0, len(subject_ids), batch))
    lock_first = False

    async def lane() -> None:
        nonlocal lock_first
        for chunk in chunks:  # shared by the lanes: each takes the next batch when it is done with one
            async with engine.begin() as conn:
                done = await evaluate_batch(conn, chunk, evaluator=evaluator, lock_first=lock_first)
            lock_first = 2 * len(done.grades_changed | done.restrictions_changed) > len(done.subject_ids)
            if on_batch is not None:
                on_batch(done)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, lanes)):
            group.create_task(lane())

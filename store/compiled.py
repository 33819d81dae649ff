"""Compiled reads as one prepared statement each. The single check: the subject, whether it waits for a
recompute and its restrictions in force as finished JSON, its audit entry going to the group writer. The screen:
the verdicts of every reference as one JSON array and its audit entry, in one round trip.

schema/compiled.py decides when a request may take this path (the document, the caller's rows and sector); this
module only runs the statements. Each is built once per selection and prepared once per connection (asyncpg's
statement cache), so a request costs no statement building, no compile-cache look-up and no BEGIN/COMMIT. The
caller returns no answer before its audit entry is durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from store.replicas import Reads

# Restriction fields a compiled check may select, as SQL over the ``restrictions`` row ``x``.
RESTRICTION_COLUMNS = {
    "sector": "x.sector",
    "measure": "x.measure",
    "since": "x.since",
    "until": "x.until",
    "exception": "x.exception",
    "disputed": "x.disputed",
}
LEGAL_BASIS_COLUMNS = {"document": "x.legal_document", "article": "x.legal_article", "text": "x.legal_text"}


# The columns a compiled read's audit entry fills: the entry arrives unsealed (hash columns NULL, store.audit).
_AUDIT_COLUMNS = (
    "actor, audience, operation, operation_type, outcome, request_id, purpose, subject_ids, fields_returned, "
    "fields_refused, prev_hash, hash"
)


def _json_object(pairs: Sequence[tuple[str, str]]) -> str:
    return "json_build_object(" + ", ".join(f"'{key}', {sql}" for key, sql in pairs) + ")"


def restriction_json(fields: Sequence[str | tuple[str, Sequence[str]]]) -> str:
    """The SQL of one restriction as a JSON object with the selected keys, in the order selected. ``fields``: a
    name, or ``("legalBasis", names)`` for the nested object; only names of the two tables above."""
    pairs: list[tuple[str, str]] = []
    for f in fields:
        if isinstance(f, tuple):
            name, sub = f
            pairs.append((name, _json_object([(s, LEGAL_BASIS_COLUMNS[s]) for s in sub])))
        else:
            pairs.append((f, RESTRICTION_COLUMNS[f]))
    return _json_object(pairs)


def subject_check_sql(restriction: str | None, *, organizations_only: bool) -> str:
    """The statement: $1 USCC, $2 sector, $3 day. It returns no row for an unknown USCC, and ``queued`` when the
    subject waits in the recompute queue: the caller then takes the general path, which answers and audits both.
    The check's audit entry goes to the group writer (store.audit.AuditWriter): a commit of its own for each
    check would cost the database more than the read itself.

    Restrictions in force: not superseded, since ≤ day ≤ until (until null: open), in the order the general
    path gives (store.restrictions.in_force: since, then id)."""
    kind = " AND kind = 'ORGANIZATION'" if organizations_only else ""
    # Only names from the two fixed tables above reach the text (no input does): S608 does not apply.
    found = (
        f"""(SELECT coalesce(json_agg({restriction} ORDER BY x.since, x.id), '[]'::json)::text
             FROM restrictions x
             WHERE x.subject_id = s.id AND x.sector = $2 AND x.superseded_at IS NULL
               AND x.since <= $3 AND (x.until IS NULL OR x.until >= $3))"""  # noqa: S608
        if restriction is not None
        else "NULL::text"
    )
    return f"""
        SELECT s.id, s.kind, s.name, s.uscc,
               EXISTS (SELECT 1 FROM recompute_queue r WHERE r.subject_id = s.id) AS queued, {found} AS found
        FROM subjects s WHERE s.uscc = $1{kind}
    """  # noqa: S608


@dataclass(frozen=True, slots=True)
class CheckRow:
    id: int
    kind: str
    name: str
    uscc: str | None
    found: str | None  # the restrictions as JSON text, ready to embed


async def subject_check(reads: Reads, sql: str, *, uscc: str, sector: str, day: date) -> CheckRow | None:
    """Run the check (on a replica when one qualifies); None when the general path must answer (unknown subject,
    or one waiting to be recomputed)."""
    row = await reads.fetchrow(sql, uscc, sector, day)
    if row is None or row["queued"]:
        return None
    return CheckRow(id=row["id"], kind=row["kind"], name=row["name"], uscc=row["uscc"], found=row["found"])


# Subject fields a compiled screen may select, as SQL over its row ``h`` of subjects (the id as the API's opaque
# global id, schema/ids.py: base64url of "Subject:<id>" without padding).
SUBJECT_COLUMNS = {
    "id": "rtrim(translate(encode(convert_to('Subject:' || h.id, 'UTF8'), 'base64'), '+/', '-_'), '=')",
    "kind": "h.kind",
    "name": "h.name",
    "uscc": "h.uscc",
}


def screen_sql(
    results: Sequence[str | tuple[str, Sequence[str]]],
    restriction: str,
    *,
    organizations_only: bool,
    audited: bool = True,
) -> str:
    """One statement for a screen of USCCs: $1 the references as sent (NULL when they are the normalized ones), $2
    the normalized codes joined by spaces (normalizing removes every space), $3 sector, $4 day,
    $5 … $9 the audit entry (actor, audience, operation, request id, purpose), $10 fields returned. Results come
    in request order as one JSON array with the selected keys; the entry lists every subject found. No entry is
    written, and the caller takes the general path, when a subject found waits in the recompute queue or a code
    not found is no valid USCC (``uscc_is_valid``: the codes found are the register's own, validated when written),
    which the general path refuses with its error.

    ``audited`` False: the statement for a hot standby, which cannot write. It takes $1 … $4 only and returns the
    subjects found (``subject_ids``) for the caller to hand to the group writer on the primary."""
    kind = " AND s.kind = 'ORGANIZATION'" if organizations_only else ""
    result = _screen_result(results)
    # Only names from the fixed tables above reach the text (no input does): S608 does not apply.
    return f"""
        WITH usccs AS (SELECT string_to_array($2::text, ' ') AS codes),
        refs AS (
          SELECT r.* FROM usccs, unnest(coalesce($1::text[], usccs.codes), usccs.codes)
            WITH ORDINALITY AS r(ref, uscc, position)
        ),
        h AS (
          SELECT refs.position, refs.ref, refs.uscc AS code, s.id, s.kind, s.name, s.uscc,
                 CASE WHEN s.id IS NULL THEN '[]'::json ELSE (
                   SELECT coalesce(json_agg({restriction} ORDER BY x.since, x.id), '[]'::json)
                   FROM restrictions x
                   WHERE x.subject_id = s.id AND x.sector = $3 AND x.superseded_at IS NULL
                     AND x.since <= $4 AND (x.until IS NULL OR x.until >= $4)) END AS found
          -- One index probe a reference (LIMIT keeps the planner from flattening the LATERAL subquery; a USCC
          -- is unique anyway): a plain join is planned as a merge with the whole subjects index, whose cost
          -- grows with the register instead of with the request.
          FROM refs LEFT JOIN LATERAL (
            SELECT s.id, s.kind, s.name, s.uscc FROM subjects s WHERE s.uscc = refs.uscc{kind} LIMIT 1
          ) s ON true
        ),
        flags AS (
          SELECT EXISTS (SELECT 1 FROM recompute_queue q WHERE q.subject_id IN (SELECT id FROM h))
                 OR EXISTS (SELECT 1 FROM h WHERE h.id IS NULL AND NOT uscc_is_valid(h.code)) AS declined
        ){_screen_entry(audited)}
        SELECT (SELECT declined FROM flags) AS declined,
               coalesce((SELECT json_agg({result} ORDER BY h.position) FROM h), '[]'::json)::text AS results,
               {"(SELECT count(*) FROM a) AS audited" if audited else f"{_FOUND_IDS} AS subject_ids"}
    """  # noqa: S608


_FOUND_IDS = "coalesce((SELECT array_agg(DISTINCT id ORDER BY id) FROM h WHERE id IS NOT NULL), '{}')"


def _screen_entry(audited: bool) -> str:
    """The screen's audit entry as a data-modifying CTE of its statement, on the primary."""
    if not audited:
        return ""
    return f""",
        a AS (
          INSERT INTO audit_log ({_AUDIT_COLUMNS})
          SELECT $5, $6, $7, 'query', 'ok', $8, $9, {_FOUND_IDS}, $10::text[], '{{}}'::text[], NULL, NULL
          FROM flags WHERE NOT flags.declined
          RETURNING id
        )"""  # noqa: S608


# A screening result's fields, as SQL over the statement's row ``h``.
_SCREEN_COLUMNS = {
    "ref": "h.ref",
    "found": "h.id IS NOT NULL",
    "restricted": "h.id IS NOT NULL AND json_array_length(h.found) > 0",
    "restrictions": "h.found",
}


def _screen_result(results: Sequence[str | tuple[str, Sequence[str]]]) -> str:
    """The ``json_build_object`` of one screening result with the selected fields."""
    pairs: list[tuple[str, str]] = []
    for f in results:
        if isinstance(f, tuple):
            name, sub = f
            if name == "subject":
                subject = _json_object([(c, SUBJECT_COLUMNS[c]) for c in sub])
                pairs.append((name, f"CASE WHEN h.id IS NULL THEN NULL ELSE {subject} END"))
            continue
        pairs.append((f, _SCREEN_COLUMNS[f]))
    return _json_object(pairs)


@dataclass(frozen=True)
class ScreenRows:
    results: str  # the verdicts as one JSON array, ready to embed
    # None: the statement wrote the entry itself (on the primary); else it ran on a replica, and the entry, naming
    # these subjects, is the caller's to hand to the group writer.
    unaudited_subjects: tuple[int, ...] | None


async def screen(
    reads: Reads,
    sql: str,
    read_sql: str,
    *,
    refs: Sequence[str],
    usccs: Sequence[str],
    sector: str,
    day: date,
    actor: str,
    audience: str,
    operation: str,
    request_id: str | None,
    purpose: str | None,
    fields_returned: Sequence[str],
) -> ScreenRows | None:
    """The verdicts, or None when the general path must answer (a subject waiting to be recomputed, an invalid
    code). On a replica ``read_sql`` runs, elsewhere ``sql`` (screen_sql, audited or not)."""
    # One text rather than two arrays: asyncpg encodes an array element by element in Python, a string at once.
    sent = None if list(refs) == list(usccs) else list(refs)
    codes = " ".join(usccs)
    answered, row = await reads.on_replica(read_sql, sent, codes, sector, day)
    if answered:
        if row is None or row["declined"]:
            return None
        return ScreenRows(results=row["results"], unaudited_subjects=tuple(row["subject_ids"]))
    entry = (actor, audience, operation, request_id, purpose, list(fields_returned))
    async with reads.primary.acquire() as conn:
        row = await conn.fetchrow(sql, sent, codes, sector, day, *entry)
    if row is None or row["declined"]:
        return None
    return ScreenRows(results=row["results"], unaudited_subjects=None)

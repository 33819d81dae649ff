"""Batch screening: "is this bidder restricted in this sector today?", one verdict per reference (SH art. 9).

A verdict names the subject found and its restrictions, so screening stands above both subjects.py and
restrictions.py; neither of them needs it.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

import strawberry

from domain import identifiers
from domain.taxonomy import Sector
from schema.context import Info
from schema.errors import BadUserInput, Forbidden
from schema.ids import parse_global_id
from schema.restrictions import MAX_SCREEN, Restriction, visible_sectors
from schema.subjects import Subject, SubjectRef
from services import grading as graded
from services import receipts
from store.restrictions import ScreenHit


@strawberry.type
class ScreeningResult:
    ref: str = strawberry.field(description="The reference as the caller sent it.")
    found: bool
    subject: Subject | None
    restricted: bool
    restrictions: list[Restriction]


async def screen(info: Info, sector: Sector, refs: list[SubjectRef], as_of: date | None) -> list[ScreeningResult]:
    visible_sectors(info, sector)
    if len(refs) > MAX_SCREEN:
        raise BadUserInput(f"at most {MAX_SCREEN} references a call (got {len(refs)})", field="refs")
    ctx = info.context
    day = as_of or ctx.today
    usccs: list[str | None] = []
    hashes: list[bytes | None] = []
    ids: list[int | None] = []
    shown: list[str] = []
    numbers: list[str | None] = []
    for i, ref in enumerate(refs):
        given = [(k, v) for k, v in (("uscc", ref.uscc), ("idNumber", ref.id_number), ("id", ref.id)) if v]
        if len(given) != 1:
            raise BadUserInput(f"refs[{i}] must give exactly one of uscc, idNumber or id", field=f"refs[{i}]", index=i)
        kind, value = given[0]
        uscc = number = pk = None
        try:
            if kind == "uscc":
                uscc = identifiers.validate_uscc(value)
            elif kind == "idNumber":
                number = identifiers.validate_id_number(value, today=ctx.today)
            else:
                type_name, parsed = parse_global_id(value, field=f"refs[{i}].id")
                pk = parsed if type_name == "Subject" else -1
        except identifiers.InvalidIdentifier as exc:
            raise BadUserInput(f"refs[{i}].{kind}: {exc.reason}", field=f"refs[{i}].{kind}", index=i) from None
        usccs.append(uscc)
        numbers.append(number)
        hashes.append(ctx.pii.lookup_hash(number) if number else None)
        ids.append(pk)
        # The reference as sent, except that an ID number is echoed masked (policy: no full ID without PII).
        shown.append(identifiers.mask_id_number(number) if number and not ctx.principal.has("subject:pii") else value)
    hits = await ctx.db.run(
        lambda conn: graded.screen(conn, usccs=usccs, id_hashes=hashes, ids=ids, sector=sector.value, day=day)
    )
    if ctx.pii.rotating:
        hits = await _retry_with_previous_keys(info, hits, numbers, sector, day)
    results = []
    rows = ctx.rows
    for index, (hit, ref_text) in enumerate(zip(hits, shown, strict=True)):
        if rows.subject_scope.only_uscc and (hit.subject is None or not rows.allows_subject(hit.subject)):
            # An employer screens only itself: any other reference is refused, known or unknown alike, so the
            # refusal tells it nothing of another subject.
            raise Forbidden(f"Forbidden: refs[{index}] is outside what the caller may see", index=index)
        # Otherwise a subject outside the row rule is screened as an unknown one: not found, no restrictions.
        subject = Subject.visible(hit.subject, info, where=f"screen.refs[{index}]")
        found = [Restriction.from_row(r) for r in hit.restrictions] if subject else []
        results.append(
            ScreeningResult(
                ref=ref_text, found=subject is not None, subject=subject, restricted=bool(found), restrictions=found
            )
        )
    return results


@strawberry.type(
    description="A screen's results with a signed receipt of them: a compact JWS (ES256, key in the API's JWKS) "
    "over the sector, the as-of date, each reference with its verdict, the rules in force, the request id and the "
    "time. docs/receipts.md says how to verify it offline."
)
class ScreeningReceipt:
    receipt_id: str = strawberry.field(description="The receipt's id (the JWS's jti), also in the audit entry.")
    jws: str = strawberry.field(description="The signed receipt, a compact JWS.")
    results: list[ScreeningResult] = strawberry.field(description="What screen answers for the same arguments.")


async def screening_receipt(info: Info, sector: Sector, refs: list[SubjectRef], as_of: date | None) -> ScreeningReceipt:
    """``screen`` itself (its scopes, sector rule, limits and row rules), then its verdicts signed."""
    ctx = info.context
    if ctx.receipts is None:
        raise RuntimeError("this view has no key to sign screening receipts with")
    if ctx.receipt_asked:
        # The audit entry of a request names one receipt.
        raise BadUserInput("a request issues at most one screening receipt", field="screeningReceipt")
    ctx.receipt_asked = True
    day = as_of or ctx.today
    results = await screen(info, sector, refs, day)
    shows_subject = ctx.principal.has("subject:read")
    verdicts = [
        receipts.Verdict(
            ref=r.ref,
            found=r.found,
            restricted=r.restricted,
            restrictions=[restriction.row for restriction in r.restrictions],
            subject=str(r.subject.id) if r.subject is not None and shows_subject else None,
        )
        for r in results
    ]
    issued = receipts.issue_receipt(
        ctx.receipts, sector=sector, as_of=day, verdicts=verdicts, request_id=ctx.request_id, audience=ctx.audience.name
    )
    ctx.receipt_id = issued.receipt_id
    return ScreeningReceipt(receipt_id=issued.receipt_id, jws=issued.jws, results=results)


async def _retry_with_previous_keys(
    info: Info, hits: list[ScreenHit], numbers: list[str | None], sector: Sector, day: date
) -> list[ScreenHit]:
    """While the PII key rotates, ID numbers not found under the current key are looked up under the previous
    ones (a second round trip, only then)."""
    missing = [i for i, (hit, number) in enumerate(zip(hits, numbers, strict=True)) if number and hit.subject is None]
    ctx = info.context
    for attempt in range(1, 8):
        if not missing:
            break
        retry: list[bytes | None] = []
        for i in missing:
            options = ctx.pii.lookup_hashes(numbers[i] or "")
            retry.append(options[attempt] if attempt < len(options) else None)
        if all(h is None for h in retry):
            break
        found = await ctx.db.run(partial(_screen_hashes, hashes=retry, sector=sector.value, day=day))
        for i, hit in zip(missing, found, strict=True):
            if hit.subject is not None:
                hits[i] = ScreenHit(position=hits[i].position, subject=hit.subject, restrictions=hit.restrictions)
        missing = [i for i in missing if hits[i].subject is None]
    return hits


async def _screen_hashes(conn: Any, *, hashes: list[bytes | None], sector: str, day: date) -> list[ScreenHit]:
    blanks: list[Any] = [None] * len(hashes)
    return await graded.screen(conn, usccs=blanks, id_hashes=hashes, ids=blanks, sector=sector, day=day)

"""Subjects (信用主体): look-up by identifier, listing with cursor pagination, identity fields."""

from __future__ import annotations

from datetime import date

import strawberry

from domain import identifiers
from domain.taxonomy import Sector
from schema import paging
from schema.access_log import AccessLogConnection, access_log_page
from schema.common import Node, PageInfo
from schema.context import Info, path_of
from schema.enums import GradeLevel, RecordCategory, SubjectKind
from schema.errors import BadUserInput, Forbidden
from schema.grading import Grade, Supervision
from schema.ids import global_id, parse_global_id, parse_record_cursor, parse_subject_cursor, subject_cursor
from schema.objections import Objection
from schema.records import CreditRecordConnection
from schema.repairs import RepairApplication
from schema.restrictions import Restriction, visible_sectors
from store import subjects as subject_store
from store.records import RecordPageKey
from store.subjects import SubjectRow

# A page of 0 to 100 items, 20 unless asked (a larger page is a batch job, not a query).
DEFAULT_PAGE = 20
MAX_PAGE = 100


@strawberry.input(description="Look a subject up by exactly one of its identifiers.")
class SubjectRef:
    uscc: str | None = None
    id_number: str | None = None
    id: strawberry.ID | None = None


@strawberry.type
class Subject(Node):
    row: strawberry.Private[SubjectRow]
    kind: SubjectKind
    name: str
    uscc: str | None = strawberry.field(description="统一社会信用代码 (organizations).")
    id_number_masked: str | None = strawberry.field(
        description="居民身份证号码, masked: first 6 and last 4 characters (individuals)."
    )
    region_code: str | None

    @classmethod
    def visible(cls, row: SubjectRow | None, info: Info, *, where: str | None = None) -> Subject | None:
        """A subject looked up or followed by reference: one outside the row rule answers exactly as an unknown
        one (null), so no caller can test whether an identifier belongs to a credit subject. The audit entry
        still records the refusal, at ``where`` (default: the field's path)."""
        if row is None:
            return None
        if not info.context.rows.allows_subject(row):
            info.context.hide(where or path_of(info))
            return None
        return cls.from_row(row, info)

    @classmethod
    def from_row(cls, row: SubjectRow, info: Info) -> Subject:
        """Every subject in a response comes through here: the row rule is decided once, for every path. Lists
        apply it in SQL, so a refusal here is a safety net; look-ups go through ``visible``."""
        if not info.context.rows.allows_subject(row):
            raise Forbidden("Forbidden: this subject is outside what the caller may see")
        info.context.seen_subjects.add(row.id)
        return cls(
            row=row,
            id=strawberry.ID(global_id("Subject", row.id)),
            kind=SubjectKind(row.kind),
            name=row.name,
            uscc=row.uscc,
            id_number_masked=row.id_number_masked,
            region_code=row.region_code,
        )

    @strawberry.field(
        description="The full ID number; personal information, for holders of the PII scope only.",
    )
    def id_number(self, info: Info) -> str | None:
        if self.row.id_number_enc is None:
            return None
        if not info.context.purpose:
            # Personal information is read for a stated purpose only (SH art. 12, WG art. 3); the purpose is audited.
            raise Forbidden("Forbidden: the full ID number needs a purpose (send an X-Purpose header)")
        return info.context.pii.decrypt(self.row.id_number_enc)

    @strawberry.field
    async def legal_representative(self, info: Info) -> Subject | None:
        if self.row.legal_representative_id is None:
            return None
        row = await info.context.loaders.subject_by_id.load(self.row.legal_representative_id)
        return Subject.visible(row, info)

    @strawberry.field
    async def records(
        self,
        info: Info,
        category: RecordCategory | None = None,
        include_inactive: bool | None = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CreditRecordConnection:
        key = RecordPageKey(
            category=category.value if category else None,
            include_inactive=bool(include_inactive),
            window=paging.window(
                first, after, last, before, default=DEFAULT_PAGE, maximum=MAX_PAGE, cursor=parse_record_cursor
            ),
            scope=info.context.rows.record_scope,
        )
        page = await info.context.loaders.record_page_by_subject.load((self.row.id, key))
        return CreditRecordConnection.from_page(page, info)

    @strawberry.field(
        description="The grade in force on asOf (default: today). Organizations only.",
    )
    async def grade(self, info: Info, as_of: date | None = None) -> Grade | None:
        day = as_of or info.context.today
        row = await info.context.loaders.grade_by_subject_day.load((self.row.id, day))
        return Grade.from_row(row, day) if row else None

    @strawberry.field(
        description="The grade timeline, newest first: each grade with the days it held.",
    )
    async def grade_history(self, info: Info) -> list[Grade]:
        rows = await info.context.loaders.grade_history_by_subject.load(self.row.id)
        return [Grade.from_row(r, r.valid_from) for r in rows]

    @strawberry.field(
        description="Restrictions in force on asOf (default: today), in the sectors the caller may see; one sector if given."
    )
    async def restrictions(
        self, info: Info, sector: Sector | None = None, as_of: date | None = None
    ) -> list[Restriction]:
        sectors = tuple(visible_sectors(info, sector))
        if not sectors:
            raise Forbidden("Forbidden: restrictions need a restriction:<sector> scope")
        day = as_of or info.context.today
        rows = await info.context.loaders.restrictions_by_subject.load((self.row.id, day, sectors))
        return [Restriction.from_row(r) for r in rows]

    @strawberry.field
    async def supervision(self, info: Info) -> Supervision | None:
        day = info.context.today
        row = await info.context.loaders.grade_by_subject_day.load((self.row.id, day))
        return Supervision.for_grade(row, day)

    @strawberry.field(description="Objections against the subject's records, newest first (SH art. 10, WG art. 19-20).")
    async def objections(self, info: Info) -> list[Objection]:
        rows = await info.context.loaders.objections_by_subject.load(self.row.id)
        return [Objection.from_row(r, info) for r in rows]

    @strawberry.field(
        description="Who read this file (PIPL art. 44-45), newest first: every audited read by another audience, "
        "when, which audience and the purpose stated. The signed-in employer's own subject only."
    )
    async def access_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> AccessLogConnection:
        return await access_log_page(info, self.row, first, after, last, before)

    @strawberry.field(description="Repair applications for the subject's records, newest first (SH art. 11).")
    async def repairs(self, info: Info) -> list[RepairApplication]:
        rows = await info.context.loaders.repairs_by_subject.load(self.row.id)
        return [RepairApplication.from_row(r, info) for r in rows]


@strawberry.type
class SubjectEdge:
    node: Subject
    cursor: str


@strawberry.type
class SubjectConnection:
    edges: list[SubjectEdge]
    page_info: PageInfo
    total_count: int


async def resolve_ref(info: Info, ref: SubjectRef, *, field: str = "ref") -> SubjectRow | None:
    """The subject a SubjectRef names, or None when the identifier is valid but unknown."""
    given = [name for name, value in (("uscc", ref.uscc), ("idNumber", ref.id_number), ("id", ref.id)) if value]
    if len(given) != 1:
        raise BadUserInput(f"{field} must give exactly one of uscc, idNumber or id (got {len(given)})", field=field)
    ctx = info.context
    try:
        if ref.uscc:
            uscc = identifiers.validate_uscc(ref.uscc)
            found = await ctx.db.run(lambda c: subject_store.by_usccs(c, [uscc]))
            return found.get(uscc)
        if ref.id_number:
            number = identifiers.validate_id_number(ref.id_number, today=ctx.today)
            digests = ctx.pii.lookup_hashes(number)
            by_hash = await ctx.db.run(lambda c: subject_store.by_id_number_hashes(c, digests))
            return next((by_hash[d] for d in digests if d in by_hash), None)
    except identifiers.InvalidIdentifier as exc:
        name = "uscc" if exc.kind == "uscc" else "idNumber"
        raise BadUserInput(f"{field}.{name}: {exc.reason}", field=f"{field}.{name}") from None
    assert ref.id is not None
    type_name, pk = parse_global_id(ref.id, field=f"{field}.id")
    if type_name != "Subject":
        return None
    return await ctx.loaders.subject_by_id.load(pk)


@strawberry.type
class SubjectQueries:
    @strawberry.field
    async def subject(self, info: Info, ref: SubjectRef) -> Subject | None:
        return Subject.visible(await resolve_ref(info, ref), info)

    @strawberry.field
    async def subjects(
        self,
        info: Info,
        name_contains: str | None = None,
        kind: SubjectKind | None = None,
        grade: GradeLevel | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SubjectConnection:
        window = paging.window(
            first, after, last, before, default=DEFAULT_PAGE, maximum=MAX_PAGE, cursor=parse_subject_cursor
        )
        filt = subject_store.SubjectFilter(
            name_contains=name_contains or None,
            kind=kind.value if kind else None,
            grade=grade.value if grade else None,
            grade_on=info.context.today,
            scope=info.context.rows.subject_scope,
        )
        page = await info.context.db.run(lambda c: subject_store.page(c, filt, window))
        total = await info.context.db.run(lambda c: subject_store.count(c, filt))
        for row in page.rows:
            info.context.loaders.subject_by_id.prime(row.id, row)
        edges = [SubjectEdge(node=Subject.from_row(r, info), cursor=subject_cursor(r.id)) for r in page.rows]
        return SubjectConnection(
            edges=edges, page_info=paging.page_info(page, [e.cursor for e in edges]), total_count=total
        )

"""Per-request dataloaders, named ``<Target>By<Key>``: related data comes in one statement per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from strawberry.dataloader import DataLoader

from services import grading as graded
from store import objections, records, repairs, subjects
from store.grading import GradeRow
from store.objections import ObjectionRow
from store.records import RecordPage, RecordPageKey, RecordRow
from store.repairs import RepairRow
from store.restrictions import RestrictionRow
from store.session import RequestDb
from store.subjects import SubjectRow


class Loaders:
    def __init__(self, db: RequestDb) -> None:
        self._db = db
        self.subject_by_id: DataLoader[int, SubjectRow | None] = DataLoader(self._subjects_by_id)
        self.record_by_id: DataLoader[int, RecordRow | None] = DataLoader(self._records_by_id)
        self.record_page_by_subject: DataLoader[tuple[int, RecordPageKey], RecordPage] = DataLoader(
            self._record_pages_by_subject
        )
        self.grade_by_subject_day: DataLoader[tuple[int, date], GradeRow | None] = DataLoader(self._grades_on_day)
        self.grade_history_by_subject: DataLoader[int, list[GradeRow]] = DataLoader(self._grade_histories)
        self.restrictions_by_subject: DataLoader[tuple[int, date, tuple[str, ...]], list[RestrictionRow]] = DataLoader(
            self._restrictions_by_subject
        )
        self.objections_by_subject: DataLoader[int, list[ObjectionRow]] = DataLoader(self._objections_by_subject)
        self.repairs_by_subject: DataLoader[int, list[RepairRow]] = DataLoader(self._repairs_by_subject)
        self.objection_push_by_id: DataLoader[int, datetime | None] = DataLoader(self._objection_pushes)

    async def _objection_pushes(self, ids: Sequence[int]) -> list[datetime | None]:
        found = await self._db.run(lambda conn: objections.pushes(conn, ids))
        return [found.get(i) for i in ids]

    async def _objections_by_subject(self, ids: Sequence[int]) -> list[list[ObjectionRow]]:
        found = await self._db.run(lambda conn: objections.by_subjects(conn, ids))
        return [found.get(i, []) for i in ids]

    async def _repairs_by_subject(self, ids: Sequence[int]) -> list[list[RepairRow]]:
        found = await self._db.run(lambda conn: repairs.by_subjects(conn, ids))
        return [found.get(i, []) for i in ids]

    async def _grades_on_day(self, keys: Sequence[tuple[int, date]]) -> list[GradeRow | None]:
        found = await self._db.run(lambda conn: graded.grades_on_day(conn, keys))
        return [found.get(k) for k in keys]

    async def _grade_histories(self, ids: Sequence[int]) -> list[list[GradeRow]]:
        found = await self._db.run(lambda conn: graded.grade_history(conn, ids))
        return [found.get(i, []) for i in ids]

    async def _restrictions_by_subject(
        self, keys: Sequence[tuple[int, date, tuple[str, ...]]]
    ) -> list[list[RestrictionRow]]:
        by_args: dict[tuple[date, tuple[str, ...]], list[int]] = defaultdict(list)
        for subject_id, day, sectors in keys:
            by_args[(day, sectors)].append(subject_id)
        found: dict[tuple[int, date, tuple[str, ...]], list[RestrictionRow]] = {}
        for (day, sectors), ids in by_args.items():
            rows = await self._db.run(lambda conn: graded.restrictions_in_force(conn, ids, day, sectors))  # noqa: B023
            found.update({(sid, day, sectors): rows.get(sid, []) for sid in ids})
        return [found[k] for k in keys]

    async def _subjects_by_id(self, ids: Sequence[int]) -> list[SubjectRow | None]:
        found = await self._db.run(lambda conn: subjects.by_ids(conn, ids))
        return [found.get(i) for i in ids]

    async def _records_by_id(self, ids: Sequence[int]) -> list[RecordRow | None]:
        found = await self._db.run(lambda conn: records.by_ids(conn, ids))
        return [found.get(i) for i in ids]

    async def _record_pages_by_subject(self, keys: Sequence[tuple[int, RecordPageKey]]) -> list[RecordPage]:
        by_args: dict[RecordPageKey, list[int]] = defaultdict(list)
        for subject_id, args in keys:
            by_args[args].append(subject_id)
        pages: dict[tuple[int, RecordPageKey], RecordPage] = {}
        for args, subject_ids in by_args.items():
            found = await self._db.run(lambda conn: records.pages_by_subject(conn, subject_ids, args))  # noqa: B023
            pages.update({(sid, args): page for sid, page in found.items()})
        return [pages[k] for k in keys]

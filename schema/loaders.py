"""Per-request dataloaders, named ``<Target>By<Key>``: related data comes in one statement per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from store import records, subjects
from store.records import RecordPage, RecordPageKey, RecordRow
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

"""Row rules (policy.md "rows"): which subjects and records an audience may see, decided in one place.

Lists and pages apply them in SQL (``subject_scope`` / ``record_scope``); every object that reaches a response
passes ``Subject.from_row`` or ``CreditRecord.from_row``, which ask ``allows_subject`` / ``allows_record``, so
the same decision holds on every path: nested relations, node(id:), aliases, fragments, batch screening. A look-up
or reference that meets a row outside the rule answers as if it did not exist (``Subject.visible``): "hidden" and
"not found" must not differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from auth.policy import Rows
from domain.publicity import is_published
from domain.taxonomy import SubjectKind
from schema.errors import Forbidden
from store.records import RecordRow, RecordScope
from store.subjects import SubjectRow, SubjectScope


@dataclass(frozen=True)
class RowRules:
    rows: Rows
    today: date
    uscc: str | None = None  # the employer's own subject (token claim `uscc`)
    source_unit: str | None = None  # the source unit's own records (token claim `source_unit`)

    @property
    def subject_scope(self) -> SubjectScope:
        if self.rows is Rows.PUBLIC:
            return SubjectScope(kind=SubjectKind.ORGANIZATION.value)
        if self.rows is Rows.OWN_SUBJECT:
            return SubjectScope(uscc=self.uscc or "", only_uscc=True)
        if self.rows is Rows.NONE:
            return SubjectScope(nothing=True)
        return SubjectScope()

    @property
    def record_scope(self) -> RecordScope:
        if self.rows is Rows.PUBLIC:
            return RecordScope(published_only_on=self.today)
        if self.rows is Rows.OWN_UNIT:
            return RecordScope(source_unit=self.source_unit or "")
        return RecordScope()

    def writing_unit(self) -> str | None:
        """The only source unit whose records the caller may write, or None when it may write any unit's.

        A token of an own-unit audience that names no unit may write nothing: refused here, before any look-up.
        """
        if self.rows is not Rows.OWN_UNIT:
            return None
        if not self.source_unit:
            raise Forbidden("Forbidden: this token names no source unit (claim source_unit), so it may write no record")
        return self.source_unit

    def allows_subject(self, row: SubjectRow) -> bool:
        if self.rows is Rows.ALL or self.rows is Rows.OWN_UNIT:
            return True
        if self.rows is Rows.PUBLIC:
            return row.kind == SubjectKind.ORGANIZATION.value
        if self.rows is Rows.OWN_SUBJECT:
            return self.uscc is not None and row.uscc == self.uscc
        return False

    def allows_record(self, row: RecordRow, subject_allowed: bool) -> bool:
        """A record is visible when its subject is, and the audience's record rule admits it.

        WG art. 7 (舞人社〔2022〕127号 第七条): no credit information is disclosed to the public without
        authorization, so a public audience sees a record, of whatever category, only while it is published on
        ``today``; ``RecordScope.published_only_on`` is the same test in SQL."""
        if not subject_allowed:
            return False
        if self.rows is Rows.PUBLIC:
            return is_published(row.status, row.decided_on, row.publication_end, self.today)
        if self.rows is Rows.OWN_UNIT:
            return self.source_unit is not None and row.source_unit == self.source_unit
        return True

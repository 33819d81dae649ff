"""Publication of records (公示): whether a record is shown to the public on a given day.

DESIGN.md "Records": ``published`` is derived — inside the publicity window and neither repaired nor
revoked. The window runs from the date of the deciding document (inclusive) to ``publicity_until``
(inclusive); a record without a window end is not published. The bounds of the window per severity (national
rule 国家发展改革委令2025年第36号) are checked when a record is written.
"""

from __future__ import annotations

from datetime import date

from domain.taxonomy import RecordStatus

_NOT_PUBLISHED = frozenset({RecordStatus.REPAIRED, RecordStatus.REVOKED, RecordStatus.CORRECTED})


def is_published(status: str, decided_on: date, publicity_until: date | None, on: date) -> bool:
    """True while ``on`` lies in [decided_on, publicity_until] and the record is neither repaired, revoked nor
    replaced by a corrected version."""
    if status in _NOT_PUBLISHED or publicity_until is None:
        return False
    return decided_on <= on <= publicity_until

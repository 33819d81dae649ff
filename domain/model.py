"""The domain's value objects: what the rules read (records) and what they decide (grades, restrictions).

Pure data: the store maps rows to these, the rules in domain/grading.py and domain/restrictions.py read and
return them, and the schema shows them. A citation (``Citation``) travels with every decision so that the API
can say *why* (DESIGN.md: "Every rule the code applies cites its article").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from domain.taxonomy import GradeLevel, InspectionLevel, RecordStatus, RecordType, Sector, Severity, SubjectKind

SH = "沪人社规〔2023〕26号《上海市人力资源和社会保障局信用信息管理办法》"
WG = "舞人社〔2022〕127号《舞钢市用人单位劳动保障信用分级分类监管办法》"
NDRC_2025 = "国家发展改革委令2025年第36号《信用修复管理办法》"
NDRC_2023 = "国家发展改革委令2023年第58号《失信行为纠正后的信用信息修复管理办法（试行）》"
MOHRSS_45 = "人力资源社会保障部令第45号《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》"
WAGE_REGULATION = "国务院令第724号《保障农民工工资支付条例》"


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a rule comes from: a document and an article, e.g. SH 第九条第（一）项."""

    document: str
    article: str
    text: str | None = None
    short: str = ""  # e.g. "SH art. 9(1)", for logs and docs


@dataclass(frozen=True, slots=True)
class Record:
    """One current version of a credit record, as the rules see it."""

    id: int
    subject_id: int
    type: RecordType
    severity: Severity | None
    status: RecordStatus
    decided_on: date
    publicity_until: date | None = None
    penalty_fulfilled: bool | None = None
    corrected_on: date | None = None
    # The day the status last changed: for REPAIRED the approval of the repair, for REVOKED the revocation.
    status_changed_on: date | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def disputed(self) -> bool:
        """SH art. 10: while an objection is handled the record keeps its effect but is disputed."""
        return self.status is RecordStatus.UNDER_OBJECTION


@dataclass(frozen=True, slots=True)
class GradeDecision:
    level: GradeLevel
    as_of: date
    cycle_start: date
    cycle_end: date
    rule: Citation
    basis: tuple[int, ...]  # ids of the records that decided it
    explanation: str  # one sentence in Chinese
    disputed: bool = False


@dataclass(frozen=True, slots=True)
class GradeSegment:
    """A stretch of the grade timeline: ``decision`` holds from ``valid_from`` up to, not including, ``valid_to``."""

    valid_from: date
    valid_to: date | None
    decision: GradeDecision


@dataclass(frozen=True, slots=True)
class RestrictionDecision:
    sector: Sector
    measure: str
    legal_basis: Citation
    since: date
    until: date | None  # inclusive; None: open-ended
    source_record_id: int | None
    exception: str | None = None
    disputed: bool = False

    def in_force_on(self, day: date) -> bool:
        return self.since <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True, slots=True)
class Measure:
    kind: str  # "INCENTIVE" | "PUNISHMENT"
    description: str
    legal_basis: Citation


@dataclass(frozen=True, slots=True)
class Supervision:
    inspection: InspectionLevel
    measures: tuple[Measure, ...]


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """What the restriction rules need to know about a subject besides its own records."""

    id: int
    kind: SubjectKind
    # Records of the organization's legal representative (SH art. 9(2)2), empty for individuals.
    representative_records: tuple[Record, ...] = ()

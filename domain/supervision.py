"""Measures and inspection level per grade (评价结果应用), WG art. 14-17, as a table.

``SUPERVISION_RULES`` is read top to bottom; the first row whose level (and, for C, the article that decided the
grade) matches gives the inspection level and the measures, each citing its article.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.grading import PENALTY_C_ARTICLES, WG_12_2
from domain.model import WG, Citation, GradeDecision, Measure, Supervision
from domain.taxonomy import GradeLevel, InspectionLevel

INCENTIVE = "INCENTIVE"
PUNISHMENT = "PUNISHMENT"


def _wg(article: str, short: str, text: str) -> Citation:
    return Citation(document=WG, article=article, text=text, short=short)


WG_14_1 = _wg(
    "第十四条第（一）项",
    "WG art. 14(1)",
    "对A+级（优秀）用人单位，可以在法定权限范围内给予以下激励措施：（一）免于日常巡视检查；",
)
WG_14_2 = _wg(
    "第十四条第（二）项",
    "WG art. 14(2)",
    "对A+级（优秀）用人单位，可以在法定权限范围内给予以下激励措施："
    "（二）同等条件下，优先给予就业、职业培训、人才、社保、劳动关系等政策支持；",
)
WG_15_1 = _wg(
    "第十五条第（一）项",
    "WG art. 15(1)",
    "对A级（良好）用人单位，可以给予以下激励措施：（一）申请人社领域行政许可时给予优先办理、简化程序等便利化服务；",
)
WG_15_2 = _wg(
    "第十五条第（二）项",
    "WG art. 15(2)",
    "对A级（良好）用人单位，可以给予以下激励措施：（二）在日常监管中，适当减少日常巡视检查频次；",
)
WG_16 = _wg("第十六条", "WG art. 16", "对B级（一般）用人单位适当增加日常巡视检查频次。")
_WG_17_LEAD = "对因违反人社法律法规受到行政处罚被评为C级（较差）的用人单位，可以就相关联的事项采取以下惩戒措施："
WG_17_1 = _wg(
    "第十七条第（一）项",
    "WG art. 17(1)",
    _WG_17_LEAD + "（一）在办理行政许可过程中，根据实际情况减少对其采取承诺制审批等便利化措施的范围；",
)
WG_17_2 = _wg("第十七条第（二）项", "WG art. 17(2)", _WG_17_LEAD + "（二）列为日常监管重点对象，强化日常巡视检查；")
WG_17_3 = _wg(
    "第十七条第（三）项",
    "WG art. 17(3)",
    _WG_17_LEAD + "（三）对主要负责人、直接责任人进行约谈，敦促其遵守人社法律法规，约谈情况应当记入用人单位信用记录。",
)
WG_17_PARA_2 = _wg(
    "第十七条第二款",
    "WG art. 17 para. 2",
    "对因列入拖欠农民工工资“黑名单”被评价为C级（较差）的用人单位，应当按照法律法规规定进行联合惩戒。",
)


@dataclass(frozen=True, slots=True)
class SupervisionRule:
    """One row: a grade ``level`` (and for C the articles that decided it; None: any) gets ``inspection`` and
    ``measures``."""

    level: GradeLevel
    decided_by: frozenset[str] | None
    inspection: InspectionLevel
    measures: tuple[Measure, ...]


SUPERVISION_RULES: tuple[SupervisionRule, ...] = (
    SupervisionRule(
        GradeLevel.A_PLUS,
        None,
        InspectionLevel.EXEMPT,
        (
            Measure(INCENTIVE, "免于日常巡视检查", WG_14_1),
            Measure(INCENTIVE, "同等条件下，优先给予就业、职业培训、人才、社保、劳动关系等政策支持", WG_14_2),
        ),
    ),
    SupervisionRule(
        GradeLevel.A,
        None,
        InspectionLevel.REDUCED,
        (
            Measure(INCENTIVE, "申请人社领域行政许可时给予优先办理、简化程序等便利化服务", WG_15_1),
            Measure(INCENTIVE, "在日常监管中，适当减少日常巡视检查频次", WG_15_2),
        ),
    ),
    SupervisionRule(
        GradeLevel.B,
        None,
        InspectionLevel.INCREASED,
        # More inspections is a constraint, listed among the punishment measures in SH art. 8(2)2.
        (Measure(PUNISHMENT, "适当增加日常巡视检查频次", WG_16),),
    ),
    SupervisionRule(
        GradeLevel.C,
        PENALTY_C_ARTICLES,
        InspectionLevel.KEY_TARGET,
        (
            Measure(PUNISHMENT, "在办理行政许可过程中，根据实际情况减少对其采取承诺制审批等便利化措施的范围", WG_17_1),
            Measure(PUNISHMENT, "列为日常监管重点对象，强化日常巡视检查", WG_17_2),
            Measure(
                PUNISHMENT,
                "对主要负责人、直接责任人进行约谈，敦促其遵守人社法律法规，约谈情况应当记入用人单位信用记录",
                WG_17_3,
            ),
        ),
    ),
    SupervisionRule(
        GradeLevel.C,
        frozenset({WG_12_2.article}),
        InspectionLevel.KEY_TARGET,
        (Measure(PUNISHMENT, "按照法律法规规定进行联合惩戒", WG_17_PARA_2),),
    ),
)
"""WG art. 14-17: inspection level and measures per grade."""


def _row(decision: GradeDecision) -> SupervisionRule | None:
    for row in SUPERVISION_RULES:
        if row.level is not decision.level:
            continue
        if row.decided_by is None or (decision.rule.document == WG and decision.rule.article in row.decided_by):
            return row
    return None


def supervision_for(decision: GradeDecision | None) -> Supervision | None:
    """WG art. 14-17: the inspection level and measures of a grade; None without a grade (individuals, or before
    WG is in force). A grade no row matches (a C decided by another article) is inspected normally."""
    if decision is None:
        return None
    row = _row(decision)
    if row is None:
        return Supervision(InspectionLevel.NORMAL, ())
    return Supervision(row.inspection, row.measures)


def measures_for(decision: GradeDecision) -> tuple[Measure, ...]:
    """The measures of WG art. 14-17 that apply to ``decision``."""
    row = _row(decision)
    return row.measures if row is not None else ()


__all__ = [
    "INCENTIVE",
    "PUNISHMENT",
    "SUPERVISION_RULES",
    "WG_14_1",
    "WG_14_2",
    "WG_15_1",
    "WG_15_2",
    "WG_16",
    "WG_17_1",
    "WG_17_2",
    "WG_17_3",
    "WG_17_PARA_2",
    "SupervisionRule",
    "measures_for",
    "supervision_for",
]

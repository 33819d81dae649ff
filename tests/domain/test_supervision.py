"""Measures and inspection level per grade, WG art. 14-17 (domain/supervision.py)."""

from __future__ import annotations

from datetime import date

from domain.grading import WG_9, WG_10, WG_11, WG_12_1, WG_12_2, WG_21
from domain.model import WG, Citation, GradeDecision
from domain.supervision import INCENTIVE, PUNISHMENT, SUPERVISION_RULES, measures_for, supervision_for
from domain.taxonomy import GradeLevel, InspectionLevel


def decision(level: GradeLevel, rule: Citation) -> GradeDecision:
    return GradeDecision(
        level=level,
        as_of=date(2026, 6, 1),
        cycle_start=date(2026, 1, 1),
        cycle_end=date(2026, 12, 31),
        rule=rule,
        basis=(),
        explanation="",
    )


def articles(d: GradeDecision) -> list[str]:
    return [m.legal_basis.article for m in measures_for(d)]


def test_wg_art_14_a_plus_is_exempt_from_routine_inspection_with_incentives() -> None:
    s = supervision_for(decision(GradeLevel.A_PLUS, WG_9))
    assert s is not None and s.inspection is InspectionLevel.EXEMPT
    assert [m.legal_basis.article for m in s.measures] == ["第十四条第（一）项", "第十四条第（二）项"]
    assert all(m.kind == INCENTIVE and m.legal_basis.document == WG for m in s.measures)
    assert s.measures[0].description == "免于日常巡视检查"


def test_wg_art_15_a_has_fewer_inspections_and_simplified_licensing() -> None:
    s = supervision_for(decision(GradeLevel.A, WG_10))
    assert s is not None and s.inspection is InspectionLevel.REDUCED
    assert [m.legal_basis.short for m in s.measures] == ["WG art. 15(1)", "WG art. 15(2)"]
    assert all(m.kind == INCENTIVE for m in s.measures)


def test_wg_art_16_b_has_more_inspections() -> None:
    s = supervision_for(decision(GradeLevel.B, WG_11))
    assert s is not None and s.inspection is InspectionLevel.INCREASED
    assert [(m.kind, m.legal_basis.article) for m in s.measures] == [(PUNISHMENT, "第十六条")]


def test_wg_art_17_1_c_from_a_penalty_is_a_key_target_with_punishment_measures() -> None:
    s = supervision_for(decision(GradeLevel.C, WG_12_1))
    assert s is not None and s.inspection is InspectionLevel.KEY_TARGET
    assert [m.legal_basis.article for m in s.measures] == [
        "第十七条第（一）项",
        "第十七条第（二）项",
        "第十七条第（三）项",
    ]
    assert all(m.kind == PUNISHMENT for m in s.measures)


def test_wg_art_21_c_kept_after_the_window_keeps_the_penalty_measures() -> None:
    assert articles(decision(GradeLevel.C, WG_21)) == articles(decision(GradeLevel.C, WG_12_1))


def test_wg_art_17_para_2_c_from_the_blacklist_draws_joint_punishment() -> None:
    s = supervision_for(decision(GradeLevel.C, WG_12_2))
    assert s is not None and s.inspection is InspectionLevel.KEY_TARGET
    assert [(m.kind, m.legal_basis.article, m.description) for m in s.measures] == [
        (PUNISHMENT, "第十七条第二款", "按照法律法规规定进行联合惩戒")
    ]


def test_wg_art_17_matches_the_stored_rule_without_its_short_name() -> None:
    # The store keeps document and article only; the table matches on those.
    stored = Citation(document=WG, article=WG_12_2.article, text=WG_12_2.text)
    assert articles(decision(GradeLevel.C, stored)) == ["第十七条第二款"]


def test_wg_art_14_no_grade_no_supervision() -> None:
    assert supervision_for(None) is None


def test_wg_art_14_17_table_covers_every_grade_and_cites_every_measure() -> None:
    assert {row.level for row in SUPERVISION_RULES} == set(GradeLevel)
    for row in SUPERVISION_RULES:
        assert row.measures
        for m in row.measures:
            assert m.kind in (INCENTIVE, PUNISHMENT) and m.legal_basis.document == WG and m.legal_basis.text


def test_wg_art_14_17_measures_for_matches_supervision_for() -> None:
    for level, rule in [
        (GradeLevel.A_PLUS, WG_9),
        (GradeLevel.A, WG_10),
        (GradeLevel.B, WG_11),
        (GradeLevel.C, WG_12_1),
        (GradeLevel.C, WG_12_2),
        (GradeLevel.C, WG_21),
    ]:
        d = decision(level, rule)
        s = supervision_for(d)
        assert s is not None and s.measures == measures_for(d)

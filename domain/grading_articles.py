"""The articles of WG (舞人社〔2022〕127号) that decide an employer's grade (domain.grading).

Each is a ``Citation`` with the article's text as the document has it; a grade decision carries the one that
decided it (``GradeDecision.rule``), and domain.supervision reads the articles of a C grade.
"""

from __future__ import annotations

from domain.model import WG, Citation

WG_NUMBER = "舞人社〔2022〕127号"


def _wg(article: str, short: str, text: str) -> Citation:
    return Citation(document=WG, article=article, text=text, short=short)


WG_9 = _wg(
    "第九条",
    "WG art. 9",
    "用人单位同时具备以下条件，并被确定为市级劳动关系和谐企业且未被撤销的，评价为A+级（优秀）："
    "（一）依法保障职工权益，近60个月无劳动保障违法违规行为或劳动人事争议仲裁败诉案件；"
    "（二）严格执行劳动合同制度，注重人文关怀，企业凝聚力较强。",
)
WG_10 = _wg("第十条", "WG art. 10", "用人单位在近一年内未被发现有违反人社法律法规行为的，评价为A级（良好）。")
WG_11 = _wg(
    "第十一条",
    "WG art. 11",
    "用人单位在近一年内因违反人社法律法规行为被查处，但能及时纠正，未受到行政处罚的，评价为B级（一般）。",
)
WG_12_1 = _wg(
    "第十二条第（一）项",
    "WG art. 12(1)",
    "用人单位在近一年内存在以下情形之一的，评价为C级（较差）：（一）因违反人社法律法规受到行政处罚的。",
)
WG_12_2 = _wg(
    "第十二条第（二）项",
    "WG art. 12(2)",
    "用人单位在近一年内存在以下情形之一的，评价为C级（较差）：（二）被列入拖欠农民工工资“黑名单”的。",
)
WG_21 = _wg(
    "第二十一条",
    "WG art. 21",
    "对评价为C级的用人单位，市人社行政部门应当会同相关部门，督促用人单位纠正违法行为、消除不良影响。"
    "对已纠正违法行为且履行行政处罚决定的，应当在评价周期满后5个工作日内调整其信用等级。",
)

# A C grade caused by a penalty (WG art. 12(1), kept by art. 21): WG art. 17 first paragraph applies to it.
PENALTY_C_ARTICLES = frozenset({WG_12_1.article, WG_21.article})

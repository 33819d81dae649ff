"""The vocabulary of the domain: subject kinds, record types and categories, severities, statuses, sectors.

The record taxonomy follows WG art. 5 (基础信息、良好信息、失信信息) and SH art. 5-6; see ../shared/DESIGN.md.
These enums are the single source of the names the GraphQL schema and the database use.
"""

from __future__ import annotations

from enum import StrEnum


class SubjectKind(StrEnum):
    ORGANIZATION = "ORGANIZATION"
    INDIVIDUAL = "INDIVIDUAL"


class RecordCategory(StrEnum):
    """WG art. 5: 基础信息 / 良好信息 (增信, SH art. 6) / 失信信息 (SH art. 5)."""

    BASIC = "BASIC"
    ENHANCING = "ENHANCING"
    DISHONESTY = "DISHONESTY"


class RecordType(StrEnum):
    WAGE_ARREARS_BLACKLIST = "WAGE_ARREARS_BLACKLIST"
    ADMINISTRATIVE_PENALTY = "ADMINISTRATIVE_PENALTY"
    FALSE_MATERIALS = "FALSE_MATERIALS"
    BROKEN_COMMITMENT = "BROKEN_COMMITMENT"
    JUDGMENT_DEFAULTER = "JUDGMENT_DEFAULTER"
    VIOLATION_CORRECTED = "VIOLATION_CORRECTED"
    ARBITRATION_LOST = "ARBITRATION_LOST"
    AWARD = "AWARD"
    HARMONIOUS_LABOR_RELATIONS = "HARMONIOUS_LABOR_RELATIONS"
    INTERVIEW = "INTERVIEW"


class Severity(StrEnum):
    """SH art. 5, last paragraph (一般失信 / 严重失信), and the national repair rule's MINOR class."""

    MINOR = "MINOR"
    GENERAL = "GENERAL"
    SERIOUS = "SERIOUS"


class RecordStatus(StrEnum):
    ACTIVE = "ACTIVE"
    UNDER_OBJECTION = "UNDER_OBJECTION"
    CORRECTED = "CORRECTED"
    REPAIRED = "REPAIRED"
    REVOKED = "REVOKED"


class GradeLevel(StrEnum):
    """WG art. 8: A+级（优秀）、A级（良好）、B级（一般）、C级（较差）."""

    A_PLUS = "A_PLUS"
    A = "A"
    B = "B"
    C = "C"


class Sector(StrEnum):
    """The sectors of joint punishment, SH art. 9 and SH art. 8(2)3."""

    GOVERNMENT_FUNDING = "GOVERNMENT_FUNDING"
    GOVERNMENT_PROCUREMENT = "GOVERNMENT_PROCUREMENT"
    BIDDING = "BIDDING"
    FINANCING_LOANS = "FINANCING_LOANS"
    MARKET_ACCESS = "MARKET_ACCESS"
    TAX_INCENTIVES = "TAX_INCENTIVES"
    AWARDS = "AWARDS"
    TRAVEL = "TRAVEL"
    STARTUP_GUARANTEE_LOANS = "STARTUP_GUARANTEE_LOANS"
    YOUTH_INTERNSHIP_BASES = "YOUTH_INTERNSHIP_BASES"
    COMMITMENT_APPROVAL = "COMMITMENT_APPROVAL"

    @property
    def scope(self) -> str:
        """The OAuth scope that grants reading restrictions in this sector (policy.md)."""
        return f"restriction:{self.value.lower()}"


class InspectionLevel(StrEnum):
    EXEMPT = "EXEMPT"
    REDUCED = "REDUCED"
    NORMAL = "NORMAL"
    INCREASED = "INCREASED"
    KEY_TARGET = "KEY_TARGET"


class ObjectionStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    VERIFYING = "VERIFYING"
    CORRECTED = "CORRECTED"
    REJECTED = "REJECTED"


class RepairStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


CATEGORY_OF: dict[RecordType, RecordCategory] = {
    RecordType.WAGE_ARREARS_BLACKLIST: RecordCategory.DISHONESTY,  # SH 5(1), WG 12(2)
    RecordType.ADMINISTRATIVE_PENALTY: RecordCategory.DISHONESTY,  # SH 5(2), WG 12(1)
    RecordType.FALSE_MATERIALS: RecordCategory.DISHONESTY,  # SH 5(3)
    RecordType.BROKEN_COMMITMENT: RecordCategory.DISHONESTY,  # SH 5(4)
    RecordType.JUDGMENT_DEFAULTER: RecordCategory.DISHONESTY,  # SH 9(2)
    RecordType.VIOLATION_CORRECTED: RecordCategory.BASIC,  # WG 11
    RecordType.ARBITRATION_LOST: RecordCategory.BASIC,  # WG 9(1)
    RecordType.AWARD: RecordCategory.ENHANCING,  # SH 6(1)
    RecordType.HARMONIOUS_LABOR_RELATIONS: RecordCategory.ENHANCING,  # SH 6(2), WG 9
    RecordType.INTERVIEW: RecordCategory.BASIC,  # WG 17(3)
}
"""The category each record type belongs to (DESIGN.md, the record table)."""

TITLE_ZH: dict[RecordType, str] = {
    RecordType.WAGE_ARREARS_BLACKLIST: "列入拖欠农民工工资失信联合惩戒对象名单",
    RecordType.ADMINISTRATIVE_PENALTY: "一般程序行政处罚",
    RecordType.FALSE_MATERIALS: "提供虚假材料、隐瞒真实情况、违规使用资金",
    RecordType.BROKEN_COMMITMENT: "告知承诺不实或违反承诺",
    RecordType.JUDGMENT_DEFAULTER: "人民法院认定的失信被执行人",
    RecordType.VIOLATION_CORRECTED: "违法被查处、及时纠正、未受行政处罚",
    RecordType.ARBITRATION_LOST: "劳动人事争议仲裁败诉",
    RecordType.AWARD: "评比达标表彰",
    RecordType.HARMONIOUS_LABOR_RELATIONS: "和谐劳动关系达标企业",
    RecordType.INTERVIEW: "约谈记录",
}

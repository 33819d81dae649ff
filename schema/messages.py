"""The Chinese catalogue of error messages, keyed by the English text the code raises.

Messages are raised in English everywhere below (domain/ stays free of presentation, and logs and tests read one
language); the response is translated at the request boundary when the caller asks for Chinese
(api/i18n.py). An entry is an English template and its Chinese: ``{name}`` stands for any text, copied as it is;
``{reason}`` and ``{message}`` stand for a message of their own, translated in turn (the reasons of
domain/identifiers.py, a record's field problems). A message no entry matches stays English: an error is never
lost for want of a translation. Terms follow the two regulations (信用信息, 失信信息, 异议, 信用修复, 公示).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from schema.messages_graphql import GRAPHQL_MESSAGES

# Our own messages: schema/, services/, the request boundary and its refusals, the token checks, the reasons of
# domain/ (identifiers, record fields, objections, publicity and repair) and of a bulk row (store/bulk.py).
OWN_MESSAGES: tuple[tuple[str, str], ...] = (
    # The request boundary (api/graphql.py) and the bearer token (auth/middleware.py, auth/tokens.py).
    ("this client has no audience in the policy", "该客户端在访问策略中没有受众"),
    ("the request is larger than the limit of {limit} bytes", "请求超过 {limit} 字节的上限"),
    ("X-Purpose must be printable text (percent-encoded UTF-8)", "X-Purpose 必须是可打印文本（UTF-8 百分号编码）"),
    ("the body is not JSON in UTF-8: {error}", "请求体不是 UTF-8 编码的 JSON：{error}"),
    ("the body must be a JSON object with a query", "请求体必须是包含 query 的 JSON 对象"),
    (
        "Authentication required: send an access token as 'Authorization: Bearer <token>'.",
        "需要身份认证：请以“Authorization: Bearer <令牌>”发送访问令牌。",
    ),
    ("Invalid access token: {reason}.", "访问令牌无效：{reason}。"),
    ("Bad request: {reason}.", "请求有误：{reason}。"),
    ("more than one Authorization header", "Authorization 请求头多于一个"),
    ("unknown issuer", "未知的签发方"),
    ("bad signature", "签名错误"),
    ("wrong audience", "受众不符"),
    ("wrong issuer", "签发方不符"),
    ("algorithm does not match key", "算法与密钥不符"),
    ("not a compact JWS", "不是紧凑格式的 JWS"),
    ("malformed token payload", "令牌载荷格式错误"),
    ("malformed token {part}", "令牌{part}格式错误"),
    ("malformed token", "令牌格式错误"),
    ("token expired", "令牌已过期"),
    ("token issued in the future", "令牌的签发时间在未来"),
    ("token not yet valid", "令牌尚未生效"),
    ("token too large", "令牌过大"),
    ("invalid token", "令牌无效"),
    ("missing token", "缺少令牌"),
    ("missing kid", "缺少 kid"),
    ("missing {claim} claim", "缺少 {claim} 声明"),
    ("invalid {claim} claim", "{claim} 声明无效"),
    ("missing or invalid aud claim", "aud 声明缺失或无效"),
    ("key not usable for signatures", "该密钥不可用于签名"),
    ("algorithm not allowed", "不允许的算法"),
    ("signature verification failed", "签名验证失败"),
    ("not an access token (typ must be at+jwt)", "不是访问令牌（typ 必须为 at+jwt）"),
    ("duplicate member in token", "令牌中有重复成员"),
    ("signing keys unavailable", "签名密钥暂不可用"),
    ("unsupported critical header", "不支持的关键头部"),
    ("unknown key", "未知的密钥"),
    ("unusable key", "密钥不可用"),
    # Outages and defects (schema/build.py).
    ("the database is unavailable; retry shortly", "数据库暂不可用，请稍后重试"),
    ("Internal error", "内部错误"),
    # Request limits (schema/limits.py, schema/validation.py).
    ("the operation costs {cost}, more than the limit of {limit}", "该操作的代价为 {cost}，超过上限 {limit}"),
    ("'{operation}' exceeds maximum operation depth of {limit}", "“{operation}”超过操作的最大深度 {limit}"),
    ("{count} aliases found. Allowed: {limit}", "使用了 {count} 个别名，最多允许 {limit} 个"),
    ("{where}: a string may not hold a NUL character", "{where}：字符串不得包含 NUL 字符"),
    # Authorization (schema/).
    ("Forbidden: {type} is outside what the caller may see", "禁止访问：{type} 超出调用方可查看的范围"),
    ("Forbidden: records are outside what the caller may see", "禁止访问：信用记录超出调用方可查看的范围"),
    ("Forbidden: this record is outside what the caller may see", "禁止访问：该信用记录超出调用方可查看的范围"),
    ("Forbidden: this subject is outside what the caller may see", "禁止访问：该信用主体超出调用方可查看的范围"),
    ("Forbidden: refs[{index}] is outside what the caller may see", "禁止访问：refs[{index}] 超出调用方可查看的范围"),
    (
        "Forbidden: the full ID number needs a purpose (send an X-Purpose header)",
        "禁止访问：查看完整身份证号码须说明用途（请发送 X-Purpose 请求头）",
    ),
    ("Forbidden: restrictions need a restriction:<sector> scope", "禁止访问：查询限制措施需要 restriction:<领域> 权限"),
    (
        "Forbidden: restrictions in {sector} need the scope {scope}",
        "禁止访问：查询 {sector} 领域的限制措施需要 {scope} 权限",
    ),
    (
        "Forbidden: this token names no source unit (claim source_unit), so it may write no record",
        "禁止访问：该令牌未指明原行政行为作出单位（source_unit 声明），不能写入信用记录",
    ),
    ("Forbidden: a source unit revokes only its own records", "禁止访问：原行政行为作出单位只能撤销本单位的信用记录"),
    # Not found, arguments and paging.
    ("no such record", "信用记录不存在"),
    ("record not found", "信用记录不存在"),
    ("subject not found", "信用主体不存在"),
    ("no such objection", "异议申请不存在"),
    ("no such repair application", "信用修复申请不存在"),
    ("{field} is not a valid id", "{field} 不是有效的 ID"),
    ("after is not a valid cursor", "after 不是有效的游标"),
    ("after is not an audit cursor", "after 不是审计日志的游标"),
    ("first must be between 0 and {max}", "first 必须在 0 到 {max} 之间"),
    ("{field} is not a valid cursor", "{field} 不是有效的游标"),
    ("{field} is not an audit cursor", "{field} 不是审计日志的游标"),
    ("{name} must be between 0 and {maximum} (got {value})", "{name} 必须在 0 到 {maximum} 之间（收到 {value}）"),
    (
        "first and last cannot be used together: page forwards with first/after or backwards with last/before",
        "first 与 last 不能同时使用：向后翻页用 first/after，向前翻页用 last/before",
    ),
    (
        "Forbidden: the access log is the signed-in employer's own",
        "禁止访问：查询记录仅限已登录的用人单位查看本单位的记录",
    ),
    ("a request issues at most one screening receipt", "一个请求最多出具一份筛查回执"),
    # Trusted documents (services/documents.py).
    ("{source} holds no operation", "{source} 不含任何操作"),
    ("{source} is not a GraphQL document: {detail}", "{source} 不是 GraphQL 文档：{detail}"),
    (
        "{source} does not validate against the audience's schema: {detail}",
        "{source} 未通过该受众模式的校验：{detail}",
    ),
    (
        "{field} must give exactly one of uscc, idNumber or id (got {count})",
        "{field} 必须且只能给出 uscc、idNumber、id 之一（实际给出 {count} 个）",
    ),
    (
        "refs[{index}] must give exactly one of uscc, idNumber or id",
        "refs[{index}] 必须且只能给出 uscc、idNumber、id 之一",
    ),
    ("at most {max} references a call (got {count})", "每次调用最多 {max} 个主体（实际 {count} 个）"),
    ("at most {max} records a call (got {count})", "每次调用最多 {max} 条信用记录（实际 {count} 条）"),
    ("at most {max} subjects a call", "每次调用最多 {max} 个信用主体"),
    ("name must not be empty", "名称不能为空"),
    ("{field} must not be empty", "{field} 不能为空"),
    ("{field} must be at most {max} characters", "{field} 最多 {max} 个字符"),
    # Objections (services/objections.py, domain/objections.py).
    (
        "an employer's objection is received the day it is filed: receivedOn is for the bureau",
        "用人单位的异议申请以提交当日为受理日：receivedOn 仅供人社部门填写",
    ),
    ("the objection was decided meanwhile", "该异议申请已被他人处理"),
    ("the record is {status}, not under objection", "该信用记录的状态为 {status}，不在异议处理中"),
    (
        "the record changed meanwhile (an objection is already being handled, or it was closed)",
        "该信用记录已发生变化（已有异议申请正在处理，或记录已关闭）",
    ),
    ("the record changed meanwhile", "该信用记录已发生变化"),
    ("a rejected objection corrects nothing: omit correction", "驳回的异议申请不更正任何内容：请省略 correction"),
    ("correction.title must not be empty", "correction.title 不能为空"),
    (
        "correction changes nothing in the record{unchanged}: a decision that upholds the objection (SH art. 10) "
        "must name what it corrects, or revoke the record with correction.revoke",
        "更正未改变信用记录的任何内容{unchanged}：支持异议的决定（SH 第十条）须写明更正的内容，"
        "或以 correction.revoke 撤销该记录",
    ),
    ("the day of receipt cannot be in the future", "受理日期不能在未来"),
    (
        "an objection cannot be received before the record it objects to was decided",
        "异议申请的受理日期不能早于所异议信用记录的决定日期",
    ),
    (
        "this version of the record was replaced by a corrected one: object to the current version",
        "该版本的信用记录已被更正版本取代：请对当前版本提出异议",
    ),
    ("an objection against this record is already being handled", "针对该信用记录的异议申请正在处理中"),
    ("the record is revoked", "该信用记录已撤销"),
    ("the record is repaired", "该信用记录已完成信用修复"),
    # Records (services/records.py, domain/records.py, domain/publicity.py).
    ("a revocation needs its reason", "撤销须说明理由"),
    ("the record is {status} and cannot be revoked", "该信用记录的状态为 {status}，不能撤销"),
    (
        "{type} is a {expected} record, not {given} (WG art. 5)",
        "{type} 属于 {expected} 类信用信息，而非 {given}（WG 第五条）",
    ),
    ("a {type} record needs a severity (SH art. 5)", "{type} 信用记录须注明严重程度（SH 第五条）"),
    ("a {type} record has no severity", "{type} 信用记录没有严重程度"),
    (
        "serious dishonesty needs its legal basis: a law, regulation or central policy document (SH art. 5)",
        "严重失信信息须注明依据：法律、法规或党中央、国务院政策文件（SH 第五条）",
    ),
    ("a {type} listing is serious dishonesty (SH art. 9)", "{type} 名单属于严重失信（SH 第九条）"),
    ("the decision date is in the future", "决定日期不能在未来"),
    ("the violation cannot have occurred after the decision", "违法行为的发生日期不能晚于决定日期"),
    ("the correction date is in the future", "整改日期不能在未来"),
    ("the publicity window ends before the decision date", "公示期限早于决定日期结束"),
    ("must be a JSON object", "必须是 JSON 对象"),
    ("must not be empty", "不能为空"),
    ("must be at most {max} characters", "最多 {max} 个字符"),
    ("must be true or false", "必须为 true 或 false"),
    ("applies only to {type} records ({rule})", "仅适用于 {type} 信用记录（{rule}）"),
    ("contradicts details.{key}", "与 details.{key} 矛盾"),
    (
        "a minor administrative penalty is not dishonesty information and is not published (SH art. 5(2))",
        "轻微行政处罚不属于失信信息，不予公示（SH 第五条第（二）项）",
    ),
    (
        "a penalty whose harm the party eliminated or mitigated is not dishonesty information and is not published "
        "(SH art. 5(2))",
        "当事人主动消除或减轻违法行为危害后果的行政处罚不属于失信信息，不予公示（SH 第五条第（二）项）",
    ),
    (
        "minor dishonesty information decided before 2026-04-01 is not published ({rule})",
        "2026-04-01 前决定的轻微失信信息不予公示（{rule}）",
    ),
    (
        "{severity} dishonesty information is published at most until {day} ({rule})",
        "{severity} 失信信息最多公示至 {day}（{rule}）",
    ),
    (
        "{severity} dishonesty information is published at least until {day} ({rule})",
        "{severity} 失信信息至少公示至 {day}（{rule}）",
    ),
    # Bulk rows (store/bulk.py).
    ("must be an object with uscc, idNumber or id", "必须是包含 uscc、idNumber 或 id 的对象"),
    ("is not a SubjectRef field (uscc, idNumber or id)", "不是 SubjectRef 的字段（uscc、idNumber 或 id）"),
    ("must give exactly one of uscc, idNumber or id", "必须且只能给出 uscc、idNumber、id 之一"),
    ("must be a string", "必须是字符串"),
    ("a file names its subjects by uscc or idNumber, not by id", "文件须以 uscc 或 idNumber 指明信用主体，不能用 id"),
    ("is not a {kind}: one of {values}", "不是有效的 {kind}：应为 {values} 之一"),
    ("is not a date YYYY-MM-DD", "不是 YYYY-MM-DD 格式的日期"),
    ("is required", "为必填项"),
    # Repair (services/repairs.py, domain/publicity.py).
    ("repair refused ({condition}): {reason}", "信用修复申请不予受理（{condition}）：{reason}"),
    (
        "repair refused ({condition}): {reason} ({article})",
        "信用修复申请不予受理（{condition}）：{reason}（{article}）",
    ),
    (
        "repair refused ({condition}): {reason}; earliest {day}",
        "信用修复申请不予受理（{condition}）：{reason}；最早可于 {day} 申请",
    ),
    (
        "repair refused ({condition}): {reason} ({article}); earliest {day}",
        "信用修复申请不予受理（{condition}）：{reason}（{article}）；最早可于 {day} 申请",
    ),
    (
        "statement must not be empty: it is the signed credit commitment (信用承诺书) a repair requires ({article})",
        "statement 不能为空：信用修复须提交签署的信用承诺书（{article}）",
    ),
    ("the application is already decided ({status})", "该申请已有决定（{status}）"),
    ("the application was decided meanwhile", "该申请已被他人处理"),
    (
        "an objection against this record is being handled: the repair waits for its decision",
        "针对该信用记录的异议申请正在处理中：信用修复须待异议决定后办理",
    ),
    (
        "a repair application for this record is already waiting for its decision",
        "该信用记录已有待决定的信用修复申请",
    ),
    ("the record was replaced by a corrected version", "该信用记录已被更正版本取代"),
    ("the record is already repaired", "该信用记录已完成信用修复"),
    ("only dishonesty information is repaired (SH art. 11)", "只有失信信息可以申请信用修复（SH 第十一条）"),
    ("the minimum publicity window runs until {day}", "最短公示期限至 {day}"),
    ("the violation is not corrected", "违法行为尚未整改"),
    ("the penalty or obligation is not fulfilled", "行政处罚或义务尚未履行"),
    ("a credit commitment is required", "须作出信用承诺"),
    ("a written credit commitment is required", "须作出书面信用承诺"),
    (
        "only a wage-arrears listing is removed early (MOHRSS 45)",
        "只有拖欠农民工工资失信联合惩戒对象名单可以提前移出（人社部令第45号）",
    ),
    ("the listing ended on {day}", "列入名单已于 {day} 期满"),
    ("the owed wages are not paid", "拖欠的工资尚未支付"),
    ("6 months since the correction end on {day}", "自整改起满 6 个月的日期为 {day}"),
    # Identifiers (domain/identifiers.py).
    ("A unified social credit code must be 18 characters long.", "统一社会信用代码必须为 18 位。"),
    (
        "A unified social credit code may only contain digits and the capital letters A-H, J-N, P-R, T, U, W, X and Y.",
        "统一社会信用代码只能包含数字和大写字母 A-H、J-N、P-R、T、U、W、X、Y。",
    ),
    (
        "The first character of a unified social credit code must be a registration authority code (1-9, A, N or Y).",
        "统一社会信用代码的第 1 位必须是登记管理部门代码（1-9、A、N 或 Y）。",
    ),
    (
        "Characters 3 to 8 of a unified social credit code must be a 6-digit administrative region code.",
        "统一社会信用代码的第 3 至 8 位必须是 6 位行政区划码。",
    ),
    (
        "The organization code in characters 9 to 17 of the unified social credit code has a wrong check character.",
        "统一社会信用代码第 9 至 17 位的组织机构代码校验码错误。",
    ),
    (
        "The unified social credit code has a wrong check character (character 18).",
        "统一社会信用代码的校验码（第 18 位）错误。",
    ),
    (
        "The first part of a unified social credit code must be 17 characters long.",
        "统一社会信用代码的本体代码必须为 17 位。",
    ),
    ("The body of an organization code must be 8 characters long.", "组织机构代码的本体代码必须为 8 位。"),
    ("An organization type code must be a single character.", "机构类别代码必须为 1 位。"),
    (
        "15-digit (first-generation) resident identity card numbers are not accepted; give the 18-digit number.",
        "不接受 15 位（第一代）居民身份证号码，请填写 18 位号码。",
    ),
    ("A resident identity card number must be 18 characters long.", "居民身份证号码必须为 18 位。"),
    (
        "A resident identity card number must be 17 digits followed by a digit or X.",
        "居民身份证号码必须为 17 位数字加 1 位数字或 X。",
    ),
    (
        "The birth date in the resident identity card number is not a real date.",
        "居民身份证号码中的出生日期不是有效日期。",
    ),
    ("The birth date in the resident identity card number is before 1900.", "居民身份证号码中的出生日期早于 1900 年。"),
    ("The birth date in the resident identity card number is in the future.", "居民身份证号码中的出生日期在未来。"),
    ("The resident identity card number has a wrong check digit.", "居民身份证号码的校验码错误。"),
    ("A region code must be 6 digits.", "行政区划码必须为 6 位数字。"),
    ("A sequence number must be between 0 and 999.", "顺序码必须在 0 到 999 之间。"),
    # A field named before its problem: the argument path, then the reason.
    ("{field}: {reason}", "{field}：{reason}"),
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_NESTED = frozenset({"reason", "message", "detail"})


class _Entry:
    __slots__ = ("nested", "pattern", "weight", "zh")

    def __init__(self, en: str, zh: str) -> None:
        parts = _PLACEHOLDER.split(en)
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        self.pattern = re.compile(regex, re.DOTALL)
        self.zh = zh
        self.nested = [name for name in parts[1::2] if name in _NESTED]
        # The more literal text a template holds, the more specific it is: tried first.
        self.weight = sum(len(part) for part in parts[0::2])


class Catalogue:
    """English → Chinese by exact text first, then by template, most specific first."""

    def __init__(self, entries: Iterable[tuple[str, str]]) -> None:
        self.exact: dict[str, str] = {}
        templates: list[_Entry] = []
        for en, zh in entries:
            if _PLACEHOLDER.search(en):
                templates.append(_Entry(en, zh))
            else:
                self.exact.setdefault(en, zh)
        self.templates = sorted(templates, key=lambda entry: -entry.weight)

    def chinese(self, message: str, depth: int = 0) -> str | None:
        """The Chinese of ``message``, or None when no entry (with all its nested messages) matches."""
        found = self.exact.get(message)
        if found is not None or depth > 4:
            return found
        for entry in self.templates:
            match = entry.pattern.fullmatch(message)
            if match is None:
                continue
            values = match.groupdict()
            for name in entry.nested:
                nested = self.chinese(values[name], depth + 1)
                if nested is None:
                    break
                values[name] = nested
            else:
                return entry.zh.format_map(values)
        return None


@functools.cache
def catalogue() -> Catalogue:
    return Catalogue((*OWN_MESSAGES, *GRAPHQL_MESSAGES))


def translate(message: str, language: str) -> str:
    """``message`` in ``language`` (``zh`` or ``en``); English when the catalogue has no entry for it."""
    if language != "zh":
        return message
    return catalogue().chinese(message) or message

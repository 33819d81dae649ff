"""The Chinese of graphql-core's common validation, syntax and coercion errors, by pattern.

graphql-core words its messages with the names quoted (``'Query.subject'``); the patterns below copy the
wording of the version pinned in constraints.txt. A message of graphql-core that none of them matches stays
English (schema/messages.py), so a new wording degrades to English rather than to an error.
"""

from __future__ import annotations

GRAPHQL_MESSAGES: tuple[tuple[str, str], ...] = (
    # A suggestion graphql-core appends (dev mode only: production hides them, schema/validation.py).
    ("{message} Did you mean {suggestion}?", "{message}您是否要找 {suggestion}？"),
    # Fields, arguments, types, fragments, operations.
    ("Cannot query field '{field}' on type '{type}'.", "类型“{type}”上没有可查询的字段“{field}”。"),
    ("Unknown argument '{argument}' on field '{field}'.", "字段“{field}”没有参数“{argument}”。"),
    ("Unknown argument '{argument}' on directive '{directive}'.", "指令“{directive}”没有参数“{argument}”。"),
    (
        "Argument '{argument}' of type '{type}' is required, but it was not provided.",
        "缺少必填参数“{argument}”（类型“{type}”）。",
    ),
    (
        "Field '{field}' argument '{argument}' of type '{type}' is required, but it was not provided.",
        "字段“{field}”缺少必填参数“{argument}”（类型“{type}”）。",
    ),
    (
        "Field '{field}' of type '{type}' must have a selection of subfields. Did you mean '{hint}'?",
        "字段“{field}”（类型“{type}”）必须选择子字段，例如“{hint}”。",
    ),
    (
        "Field '{field}' of type '{type}' must have a selection of subfields.",
        "字段“{field}”（类型“{type}”）必须选择子字段。",
    ),
    (
        "Field '{field}' must not have a selection since type '{type}' has no subfields.",
        "字段“{field}”的类型“{type}”没有子字段，不能选择子字段。",
    ),
    ("Unknown type '{type}'.", "未知类型“{type}”。"),
    ("Unknown fragment '{fragment}'.", "未知片段“{fragment}”。"),
    ("Unknown directive '@{directive}'.", "未知指令“@{directive}”。"),
    ("Fragment '{fragment}' is never used.", "片段“{fragment}”未被使用。"),
    ("There can be only one operation named '{operation}'.", "名为“{operation}”的操作只能有一个。"),
    ("This anonymous operation must be the only defined operation.", "匿名操作必须是文档中唯一的操作。"),
    ("Unknown operation named '{operation}'.", "未知的操作名“{operation}”。"),
    ("Must provide operation name if query contains multiple operations.", "文档包含多个操作时必须提供操作名。"),
    ("Must provide an operation.", "必须提供一个操作。"),
    (
        "Too many validation errors, error limit reached. Validation aborted.",
        "校验错误过多，已达上限，校验中止。",
    ),
    # Variables.
    ("Variable '${variable}' is never used.", "变量“${variable}”未被使用。"),
    (
        "Variable '${variable}' is never used in operation '{operation}'.",
        "变量“${variable}”在操作“{operation}”中未被使用。",
    ),
    ("Variable '${variable}' is not defined.", "变量“${variable}”未定义。"),
    ("Variable '${variable}' is not defined by operation '{operation}'.", "操作“{operation}”未定义变量“${variable}”。"),
    (
        "Variable '${variable}' of type '{type}' used in position expecting type '{expected}'.",
        "变量“${variable}”的类型为“{type}”，此处需要类型“{expected}”。",
    ),
    ("Variable '${variable}' has invalid value: {reason}", "变量“${variable}”的值无效：{reason}"),
    ("Variable '${variable}' has invalid value at {path}: {reason}", "变量“${variable}”在 {path} 处的值无效：{reason}"),
    (
        "Variable '${variable}' of required type '{type}' was not provided.",
        "未提供必填变量“${variable}”（类型“{type}”）。",
    ),
    (
        "Variable '${variable}' of non-null type '{type}' must not be null.",
        "非空变量“${variable}”（类型“{type}”）不能为 null。",
    ),
    # Values (literals and variables).
    ("Expected a value of non-null type '{type}' to be provided.", "必须提供非空类型“{type}”的值。"),
    ("Expected value of non-null type '{type}' not to be None.", "非空类型“{type}”的值不能为空。"),
    (
        "Expected value of type '{type}' not to include unknown field '{field}'. Found: {value}.",
        "类型“{type}”的值不能包含未知字段“{field}”。实际为：{value}。",
    ),
    (
        "Expected value of type '{type}' not to include unknown field '{field}'. Did you mean {suggestion}? "
        "Found: {value}.",
        "类型“{type}”的值不能包含未知字段“{field}”，您是否要找 {suggestion}？实际为：{value}。",
    ),
    ("Field '{field}' is not defined by type '{type}'.", "类型“{type}”没有定义字段“{field}”。"),
    (
        "Field '{field}' of required type '{type}' was not provided.",
        "未提供必填字段“{field}”（类型“{type}”）。",
    ),
    ("Expected value of type '{type}', found {value}; {reason}", "应为类型“{type}”的值，实际为 {value}；{reason}"),
    ("Expected value of type '{type}', found {value}.", "应为类型“{type}”的值，实际为 {value}。"),
    ("Value '{value}' does not exist in '{enum}' enum.", "枚举“{enum}”中没有值“{value}”。"),
    ("Enum '{enum}' cannot represent non-enum value: {value}.", "枚举“{enum}”不能表示非枚举值：{value}。"),
    ("Int cannot represent non-integer value: {value}", "Int 不能表示非整数值：{value}"),
    ("Int cannot represent non 32-bit signed integer value: {value}", "Int 不能表示超出 32 位有符号整数的值：{value}"),
    ("Float cannot represent non numeric value: {value}", "Float 不能表示非数值：{value}"),
    ("String cannot represent a non string value: {value}", "String 不能表示非字符串值：{value}"),
    ("Boolean cannot represent a non boolean value: {value}", "Boolean 不能表示非布尔值：{value}"),
    ("ID cannot represent value: {value}", "ID 不能表示该值：{value}"),
    ("Value cannot represent a Date: {value}. {detail}", "该值不能表示日期：{value}。{detail}"),
    ("Invalid isoformat string: {value}", "无效的 ISO 格式字符串：{value}"),
    ("Expected a string.", "应为字符串。"),
    # Syntax (the parser), including the token limit of schema/limits.py.
    ("Syntax Error: {detail}", "语法错误：{detail}"),
    ("Expected {expected}, found {found}.", "此处应为 {expected}，实际为 {found}。"),
    ("Unexpected {found}.", "意外的 {found}。"),
    ("Unterminated string.", "字符串未结束。"),
    ("Cannot parse the unexpected character {character}.", "无法解析意外的字符 {character}。"),
    ("Invalid number, {reason}", "无效的数字，{reason}"),
    ("Document contains more than {limit} tokens. Parsing aborted.", "文档超过 {limit} 个记号，已停止解析。"),
)

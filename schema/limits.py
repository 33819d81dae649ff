"""Bounds on one request, checked before it executes (policy.md: one request never starves the others).

Tokens (the parser stops at the limit), depth and aliases use strawberry's own limiters; their errors are given a
stable ``extensions.code`` and the ``limit`` they hit. The cost is computed from the document and its variables:
each selected field costs 1, a list field multiplies what it selects by its page size (``first`` or ``last``,
whichever is given, else the field's default page), and ``screen`` (and ``screeningReceipt``) costs one per
reference, so one request cannot ask for more look-ups than
the cost limit, however it spreads them over aliases and fragments.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import AddValidationRules, SchemaExtension, max_aliases, query_depth_limiter

# The default page of each paged field when neither ``first`` nor ``last`` is given (the resolvers' own defaults).
DEFAULT_PAGE = {"records": 20, "subjects": 20, "auditLog": 50, "accessLog": 20}


@dataclass(frozen=True)
class RequestLimits:
    max_tokens: int = 2000
    max_depth: int = 10
    max_aliases: int = 15
    max_cost: int = 5000


class _CodedContext:
    """A validation context whose reported errors carry ``code`` and ``limit``."""

    def __init__(self, context: ValidationContext, code: str, limit: int) -> None:
        self._context = context
        self._code = code
        self._limit = limit

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code, "limit": self._limit}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _coded(rule: type[ValidationRule], code: str, limit: int) -> type[ValidationRule]:
    class Coded(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            rule(_CodedContext(context, code, limit))  # type: ignore[arg-type]
            super().__init__(context)

    Coded.__name__ = f"{rule.__name__}{code.title().replace('_', '')}"
    return Coded


def limit_rules(limits: RequestLimits) -> list[type[ASTValidationRule]]:
    """The validation rules of the depth and alias limits, made once per schema so cached validation stays cached."""
    return [
        _coded(query_depth_limiter.create_validator(limits.max_depth, None), "QUERY_TOO_DEEP", limits.max_depth),
        _coded(max_aliases.create_validator(limits.max_aliases), "TOO_MANY_ALIASES", limits.max_aliases),
    ]


class _Cost:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]) -> None:
        self.fragments = fragments
        self.variables = variables

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                return self.variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, ListValueNode):
                return list(value.values)
            return None
        return None

    def selection(self, selection_set: SelectionSetNode | None, seen: frozenset[str] = frozenset()) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, seen)
            elif isinstance(node, InlineFragmentNode):
                total += self.selection(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # a cycle is refused by validation
                    total += self.selection(fragment.selection_set, seen | {name})
        return total

    def field(self, node: FieldNode, seen: frozenset[str]) -> int:
        inner = self.selection(node.selection_set, seen)
        name = node.name.value
        if name in ("screen", "screeningReceipt"):
            refs = self._argument(node, "refs")
            return 1 + (len(refs) if isinstance(refs, list) else 1) + inner
        if name in DEFAULT_PAGE:
            # A page counted from the back costs what one from the front does; given both (refused when it
            # runs), the larger counts.
            sizes = [s for s in (self._argument(node, "first"), self._argument(node, "last")) if _is_size(s)]
            page = max(sizes) if sizes else DEFAULT_PAGE[name]
            return 1 + max(page, 1) * inner
        return 1 + inner


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def operation_cost(document: Any, operation_name: str | None, variables: Mapping[str, Any] | None) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name is not None and d.name.value == operation_name]
    cost = _Cost(fragments, variables or {})
    return max((cost.selection(op.selection_set) for op in operations), default=0)


def limit_extensions(limits: RequestLimits) -> list[Any]:
    """The extensions (factories) that hold a schema to ``limits``."""
    rules = limit_rules(limits)

    class CostLimit(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            ec = self.execution_context
            if ec.graphql_document is not None:
                cost = operation_cost(ec.graphql_document, ec.operation_name, ec.variables)
                if cost > limits.max_cost:
                    message = f"the operation costs {cost}, more than the limit of {limits.max_cost}"
                    ec.result = ExecutionResult(
                        data=None,
                        errors=[GraphQLError(message, extensions={"code": "COST_LIMIT", "limit": limits.max_cost})],
                    )
            yield

    class TokenLimit(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            self.execution_context.parse_options["max_tokens"] = limits.max_tokens
            yield

    return [TokenLimit, lambda: AddValidationRules(rules), CostLimit]


def code_token_limit(error: GraphQLError, limits: RequestLimits) -> None:
    """graphql-core's parser reports the token limit as a syntax error; give it its code and limit."""
    if "contains more than" in error.message and "tokens" in error.message:
        error.extensions = {**(error.extensions or {}), "code": "TOO_MANY_TOKENS", "limit": limits.max_tokens}

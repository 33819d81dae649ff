"""Validation of a parsed document, cached, with its error count bounded and, in production, no suggestions.

strawberry's own ValidationCache calls graphql-core's ``validate`` with its defaults: up to 100 errors a document
(a document of unknown directives or fields costs a response line each) and "Did you mean ...?" in messages.
Suggestions only ever name what the caller's audience schema holds, but a production deployment need not help
anyone explore its schema by typos; the error count is bounded everywhere, since no client needs more than the
first few errors to fix its document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    ArgumentNode,
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    StringValueNode,
    Visitor,
    validate,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

DEFAULT_MAX_ERRORS = 5


@lru_cache(maxsize=1024)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    max_errors: int,
    hide_suggestions: bool,
) -> list[GraphQLError]:
    # strawberry's validate_document adds these two rules of its own to the specified ones.
    every_rule = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, every_rule, max_errors=max_errors, hide_suggestions=hide_suggestions)


class BoundedValidation(SchemaExtension):
    """Validates once per (schema, document), at most ``max_errors`` errors, suggestions hidden on request."""

    def __init__(self, *, max_errors: int = DEFAULT_MAX_ERRORS, hide_suggestions: bool = False) -> None:
        super().__init__()
        self.max_errors = max_errors
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        assert ec.graphql_document is not None
        ec.pre_execution_errors = _validate(
            ec.schema._schema, ec.graphql_document, tuple(ec.validation_rules), self.max_errors, self.hide_suggestions
        )
        yield


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first string under ``value`` that holds a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        return next((p for k, v in value.items() if (p := _nul_path(v, f"{path}.{k}"))), None)
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := _nul_path(v, f"{path}[{i}]"))), None)
    return None


class NoNulInStrings(SchemaExtension):
    """A NUL character is refused in every string input, naming where it is: PostgreSQL text cannot hold one,
    and no identifier, name or decision number has one."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        where = _nul_path(ec.variables or {}, "variables")
        if where is None and ec.graphql_document is not None:
            for node in _string_arguments(ec.graphql_document):
                if "\x00" in node[1]:
                    where = node[0]
                    break
        if where is not None:
            message = f"{where}: a string may not hold a NUL character"
            ec.result = ExecutionResult(
                data=None, errors=[GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": where})]
            )
        yield


def _string_arguments(document: DocumentNode) -> Iterator[tuple[str, str]]:
    """(argument name, value) of every string literal given to an argument, however deep in an input object."""

    class Collect(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, str]] = []
            self.names: list[str] = []

        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            self.names.append(node.name.value)

        def leave_argument(self, node: ArgumentNode, *_: Any) -> None:
            self.names.pop()

        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if self.names:
                self.found.append((self.names[-1], node.value))

    collect = Collect()
    visit(document, collect)
    yield from collect.found

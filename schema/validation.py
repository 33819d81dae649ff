"""Validation of a parsed document, cached, with its error count bounded and, in production, no suggestions.

strawberry's own ValidationCache calls graphql-core's ``validate`` with its defaults: up to 100 errors a document
(a document of unknown directives or fields costs a response line each) and "Did you mean ...?" in messages.
Suggestions only ever name what the caller's audience schema holds, but a production deployment need not help
anyone explore its schema by typos; the error count is bounded everywhere, since no client needs more than the
first few errors to fix its document.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
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

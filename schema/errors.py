"""Expected errors, with stable codes in ``extensions.code``; anything else is masked (see schema/build.py)."""

from __future__ import annotations

from graphql import GraphQLError


class ExpectedError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class BadUserInput(ExpectedError):
    """Input that fails validation; ``field`` names the argument path (e.g. ``ref.uscc``)."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str, **extensions: object) -> None:
        super().__init__(message, field=field, **extensions)


class Forbidden(ExpectedError):
    code = "FORBIDDEN"


class NotFound(ExpectedError):
    code = "NOT_FOUND"


class Conflict(ExpectedError):
    code = "CONFLICT"

"""The refusals a use case raises, each with the stable code a client reads in ``extensions.code``.

They are plain exceptions, not GraphQL errors: the use cases serve the GraphQL API and the commands alike.
graphql-core takes a raised error's ``extensions`` into the error it reports, so a resolver lets them through.
"""

from __future__ import annotations


class ExpectedError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, object] = {"code": self.code, **extensions}


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

"""Expected errors, with stable codes in ``extensions.code``; anything else is masked (see schema/build.py).

The use cases raise them (services/errors.py); resolvers raise the same ones for what only the API checks.
"""

from __future__ import annotations

from services.errors import BadUserInput, Conflict, ExpectedError, Forbidden, NotFound

__all__ = ["BadUserInput", "Conflict", "ExpectedError", "Forbidden", "NotFound"]

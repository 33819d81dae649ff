"""Scope requirements on the fields that carry credit or personal information.

Issue #4 compiles the whole policy into one schema per audience; until then, these permission classes guard
the root look-ups and the sensitive fields so that no field is readable without its scope (policy.md).
A refused field resolves to null with ``extensions.code = FORBIDDEN`` and the path naming it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission

from schema.context import Info


@cache
def scope(required: str) -> type[BasePermission]:
    class RequiresScope(BasePermission):
        message = f"Forbidden: this field requires the scope {required}"
        error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            return info.context.principal.has(required)

    RequiresScope.__name__ = f"RequiresScope[{required}]"
    return RequiresScope

"""Relay connection arguments (``first/after/last/before``) and ``PageInfo``, the same for every connection.

A page is counted from the front (``first``, optionally after a cursor) or from the back (``last``, optionally
before one); both cursors may bound it at once. ``first`` and ``last`` together are refused: the Relay
specification discourages them as confusing, and no list here needs the slice of a slice they would mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from schema.common import PageInfo
from schema.errors import BadUserInput
from store.paging import Window

K = TypeVar("K")


def _size(name: str, value: int, maximum: int) -> int:
    if not 0 <= value <= maximum:
        raise BadUserInput(f"{name} must be between 0 and {maximum} (got {value})", field=name)
    return value


def window(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    default: int,
    maximum: int,
    cursor: Callable[[str, str], K],
) -> Window[K]:
    """The window the arguments ask for; ``cursor(value, argument)`` decodes a cursor or raises bad input
    naming the argument. Neither ``first`` nor ``last``: the first ``default`` items."""
    if first is not None and last is not None:
        raise BadUserInput(
            "first and last cannot be used together: page forwards with first/after or backwards with last/before",
            field="last",
        )
    after_key = cursor(after, "after") if after else None
    before_key = cursor(before, "before") if before else None
    if last is not None:
        return Window(size=_size("last", last, maximum), after=after_key, before=before_key, backward=True)
    size = default if first is None else _size("first", first, maximum)
    return Window(size=size, after=after_key, before=before_key)


class _Paged(Protocol):
    @property
    def has_previous(self) -> bool: ...
    @property
    def has_next(self) -> bool: ...


def page_info(page: _Paged, cursors: Sequence[str]) -> PageInfo:
    """PageInfo of a page whose edges carry ``cursors``, in order."""
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )

"""Keyset pages of a list in a fixed order, in both directions (the Relay cursor connections model).

A page is a ``Window``: at most ``size`` items after one cursor and before another, counted from the front
(``first``) or from the back (``last``). A cursor is the sort key of the item it names. The statement asks for
the cursor's own item as well, from the side the page grows from, and one item more than the page: the first
tells that items lie on that side of the page, the second that items lie on the other side. No count, no
second statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

K = TypeVar("K")
R = TypeVar("R")


@dataclass(frozen=True)
class Window(Generic[K]):
    size: int
    after: K | None = None
    before: K | None = None
    backward: bool = False  # ``last``: the page ends where the list (or ``before``) ends

    @property
    def anchor(self) -> K | None:
        """The cursor the page grows from: its item is read too, to tell whether anything lies beyond it."""
        return self.before if self.backward else self.after

    @property
    def limit(self) -> int:
        return self.size + 1 + (self.anchor is not None)


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    rows: list[R]
    has_previous: bool
    has_next: bool


def _key(columns: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
    return columns[0] if len(columns) == 1 else sa.tuple_(*columns)


def _value(value: Any, columns: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
    return sa.literal(value) if len(columns) == 1 else sa.tuple_(*(sa.literal(v) for v in value))


def clauses(columns: Sequence[sa.ColumnElement[Any]], descending: bool, window: Window[Any]) -> list[Any]:
    """The WHERE terms of ``window`` over a list ordered by ``columns`` (ascending, or descending)."""
    key = _key(columns)
    later: Callable[[Any], Any] = (lambda v: key < v) if descending else (lambda v: key > v)
    earlier: Callable[[Any], Any] = (lambda v: key > v) if descending else (lambda v: key < v)
    terms = []
    if window.after is not None:
        after = _value(window.after, columns)
        terms.append(later(after) if window.backward else sa.or_(later(after), key == after))
    if window.before is not None:
        before = _value(window.before, columns)
        terms.append(sa.or_(earlier(before), key == before) if window.backward else earlier(before))
    return terms


def order(columns: Sequence[sa.ColumnElement[Any]], descending: bool, window: Window[Any]) -> list[Any]:
    """The ORDER BY of ``window``: the list's order, reversed when the page is counted from the back."""
    down = descending != window.backward
    return [c.desc() if down else c.asc() for c in columns]


def settle(rows: Sequence[R], key_of: Callable[[R], Any], window: Window[Any]) -> Page[R]:
    """The page of the rows a window's statement returned (in its order), in the list's order."""
    items = list(rows)
    beyond_anchor = bool(items) and window.anchor is not None and key_of(items[0]) == window.anchor
    if beyond_anchor:
        items = items[1:]
    more = len(items) > window.size
    items = items[: window.size]
    if window.backward:
        items.reverse()
        return Page(items, has_previous=more, has_next=beyond_anchor)
    return Page(items, has_previous=beyond_anchor, has_next=more)

"""Types shared by every area: the Node interface, PageInfo and LegalBasis."""

from __future__ import annotations

import re

import strawberry


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type(description="Where a page lies in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Items follow the page: beyond first, or (paging backwards) at or after the before cursor."
    )
    has_previous_page: bool = strawberry.field(
        description="Items precede the page: beyond last, or (paging forwards) at or before the after cursor."
    )
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(
    description="Where a rule comes from: a document and an article, e.g. 沪人社规〔2023〕26号 第九条第（一）项."
)
class LegalBasis:
    document: str
    article: str
    text: str | None = None


_TITLED = re.compile(r"^\s*(《[^》]+》|[^\s第]+〔\d{4}〕\d+号)\s*(.*)$")


def legal_basis_from_text(text: str) -> LegalBasis:
    """Split a recorded legal basis such as ``《劳动保障监察条例》第二十六条`` into document and article."""
    match = _TITLED.match(text)
    if match:
        return LegalBasis(document=match.group(1), article=match.group(2).strip(), text=text)
    return LegalBasis(document=text, article="", text=text)

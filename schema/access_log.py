"""Who read my file (PIPL art. 44-45): ``me { accessLog }``, the audited reads of the employer's own subject.

Each entry says when, which audience (department) and for what purpose (the caller's X-Purpose) and by which
operation: never the actor, so no official's identity, and nothing of the entry's other subjects or fields.
The employer's own reads are left out: the right to know is about the processing by others, and the employer's
every look at its log would otherwise fill the log it looks at.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from auth.policy import Rows
from schema import paging
from schema.common import PageInfo
from schema.context import Info
from schema.errors import Forbidden
from schema.ids import access_cursor, parse_access_cursor
from store import access_log
from store.subjects import SubjectRow

DEFAULT_PAGE = 20
MAX_PAGE = 100


@strawberry.type(description="One audited read of the employer's own file: when, by which department, why.")
class AccessLogEntry:
    at: datetime
    audience: str | None = strawberry.field(description="The department's audience, e.g. procurement.")
    purpose: str | None = strawberry.field(description="The purpose the reader stated (X-Purpose), if any.")
    operation: str = strawberry.field(description="The name of the reader's GraphQL operation.")


@strawberry.type
class AccessLogEdge:
    node: AccessLogEntry
    cursor: str


@strawberry.type
class AccessLogConnection:
    edges: list[AccessLogEdge]
    page_info: PageInfo


async def access_log_page(
    info: Info, subject: SubjectRow, first: int | None, after: str | None, last: int | None, before: str | None
) -> AccessLogConnection:
    rules = info.context.rows
    if rules.rows is not Rows.OWN_SUBJECT or not rules.uscc or subject.uscc != rules.uscc:
        # The policy shows the field to the employer alone; this holds should a subject other than its own reach it.
        raise Forbidden("Forbidden: the access log is the signed-in employer's own")
    window = paging.window(
        first, after, last, before, default=DEFAULT_PAGE, maximum=MAX_PAGE, cursor=parse_access_cursor
    )
    own = info.context.audience.name
    page = await info.context.db.run(lambda conn: access_log.page(conn, subject.id, window, excluding_audience=own))
    edges = [
        AccessLogEdge(
            node=AccessLogEntry(at=r.at, audience=r.audience, purpose=r.purpose, operation=r.operation),
            cursor=access_cursor(r.id),
        )
        for r in page.rows
    ]
    return AccessLogConnection(edges=edges, page_info=paging.page_info(page, [e.cursor for e in edges]))

"""restrictionChanged: every change of restriction status in a sector the caller may see (SH art. 9).

Authorized like a query: the sector needs its restriction scope (FORBIDDEN otherwise, at subscription start),
and each event passes the row rules before it is sent (an employer hears of its own subject only). Events come
from PostgreSQL LISTEN/NOTIFY (store/notify.py), so a change written through any API process reaches every
subscriber of every process. Each delivered event is audited. An outage ends a subscription with the code
UNAVAILABLE: events may have been missed while the database was away.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from domain.taxonomy import Sector
from schema.context import Info
from schema.loaders import Loaders
from schema.restrictions import visible_sectors
from schema.subjects import Subject
from store import audit
from store import subjects as subject_store
from store.session import DatabaseUnavailable


@strawberry.type
class RestrictionChange:
    subject: Subject
    sector: Sector
    restricted: bool
    at: datetime


@strawberry.type
class RestrictionSubscriptions:
    @strawberry.subscription(description="Pushes every change of restriction status in a sector the caller may see.")
    async def restriction_changed(self, info: Info, sector: Sector) -> AsyncGenerator[RestrictionChange, None]:
        visible_sectors(info, sector)
        ctx = info.context
        feed = ctx.request.app.state.restriction_feed
        await feed.start()
        queue = feed.subscribe()
        try:
            while True:
                # The previous event is fully sent when the generator resumes: commit its audit entry and give
                # the connection back, so an idle subscription holds no database connection.
                await ctx.db.finish(commit=True)
                event = await queue.get()
                if event is None:
                    # The feed's connection dropped: changes may have been missed, so the subscription ends
                    # and the client subscribes again (and re-reads what it needs) once the database is back.
                    raise DatabaseUnavailable("the restriction feed was interrupted")
                if event.sector != sector.value:
                    continue
                found = await ctx.db.run(lambda conn: subject_store.by_ids(conn, [event.subject_id]))  # noqa: B023
                row = found.get(event.subject_id)
                if row is None or not ctx.rows.allows_subject(row):
                    continue
                ctx.loaders = Loaders(ctx.db)  # nothing cached from an earlier event
                entry = audit.AuditEntry(
                    actor=ctx.principal.subject,
                    audience=ctx.audience.name,
                    operation="restrictionChanged",
                    operation_type="subscription",
                    outcome="delivered",
                    request_id=ctx.request_id,
                    purpose=ctx.purpose,
                    subject_ids=[row.id],
                    fields_returned=["Subscription.restrictionChanged"],
                )
                await ctx.db.run(lambda conn: audit.append(conn, entry))  # noqa: B023
                yield RestrictionChange(
                    subject=Subject.from_row(row, info),
                    sector=Sector(event.sector),
                    restricted=event.restricted,
                    at=event.at,
                )
        finally:
            feed.unsubscribe(queue)
            await ctx.db.finish(commit=True)

"""Credit repair (信用修复): applyRepair, decideRepair and the RepairApplication node.

SH art. 11 and WG art. 21: after correcting the violation and fulfilling its obligations the subject applies. The
national repair rule (NDRC 2025/36) adds when: the minimum publicity window has passed, the violation is corrected
and the penalty fulfilled, and a public credit commitment is made; an approved repair ends publication, sharing and
restriction at once and the evaluations are recomputed. A wage-arrears listing is repaired by early removal
(MOHRSS 45: wages paid, 6 months since, a written commitment). The conditions are ``domain.publicity``'s
``repair_refusal``; a refusal is BAD_USER_INPUT naming the unmet ``condition`` and the ``earliest`` day it can be
met when that depends only on time.

The application's ``statement`` is the subject's signed credit commitment (信用承诺书) unless ``commitment`` says
otherwise, so a client that sends only ``recordId`` and ``statement`` can complete a repair.

Adapters of the use cases in services/repairs.py, in the request's transaction: the resolver finds the record and
the application through the row rule, the use case checks the conditions and writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.taxonomy import RepairStatus
from schema.common import Node
from schema.context import Info
from schema.errors import NotFound
from schema.ids import global_id, parse_global_id
from schema.records import CreditRecord
from schema.writing import check_subject, record_for_write, work_calendar
from services import repairs as repair_service
from services.texts import MAX_TEXT, required_text
from store import repairs as repair_store
from store.repairs import RepairRow

strawberry.enum(RepairStatus)


@strawberry.type(description="信用修复 (SH art. 11, WG art. 21, NDRC 2025/36): an application to repair a record.")
class RepairApplication(Node):
    row: strawberry.Private[RepairRow]
    status: RepairStatus
    statement: str
    submitted_at: datetime
    decided_at: datetime | None
    decision: str | None

    @classmethod
    def from_row(cls, row: RepairRow, info: Info) -> RepairApplication:
        """An application of a subject the caller may see (``Subject.repairs``, or after ``check_subject``)."""
        info.context.seen_subjects.add(row.subject_id)
        return cls(
            row=row,
            id=strawberry.ID(global_id("RepairApplication", row.id)),
            status=RepairStatus(row.status),
            statement=row.statement,
            submitted_at=row.submitted_at,
            decided_at=row.decided_at,
            decision=row.decision,
        )

    @strawberry.field
    async def record(self, info: Info) -> CreditRecord:
        row = await info.context.loaders.record_by_id.load(self.row.record_id)
        if row is None:  # a foreign key guarantees it
            raise NotFound("record not found")
        return await CreditRecord.checked(row, info)


async def _reloaded(info: Info, pk: int) -> RepairApplication:
    found = await info.context.db.run(lambda conn: repair_store.by_ids(conn, [pk]))
    return RepairApplication.from_row(found[pk], info)


@strawberry.type
class RepairMutations:
    @strawberry.mutation(
        description=(
            "Apply to repair a dishonesty record (SH art. 11, NDRC 2025/36; a wage-arrears listing: early removal, "
            "MOHRSS 45). The statement is the subject's signed public (written) credit commitment (信用承诺书); "
            "commitment: false says it makes none. A refusal is BAD_USER_INPUT with extensions.condition and "
            "extensions.earliest; a missing commitment also names extensions.field (statement or commitment) and "
            "extensions.article."
        )
    )
    async def apply_repair(
        self,
        info: Info,
        record_id: strawberry.ID,
        statement: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The signed credit commitment (信用承诺书), with how the violation was corrected and the "
                    f"obligations fulfilled; not blank, at most {MAX_TEXT} characters."
                )
            ),
        ],
        commitment: Annotated[
            bool | None,
            strawberry.argument(
                description=(
                    "Whether the statement makes the credit commitment; omitted or null: it does (the statement "
                    "is the commitment), false: it does not and the repair is refused (COMMITMENT_MISSING)."
                )
            ),
        ] = None,
    ) -> RepairApplication:
        ctx = info.context
        record = await record_for_write(info, record_id)
        pk = await ctx.db.run(
            lambda conn: repair_service.apply_repair(
                conn, record, statement, commitment, actor=ctx.principal.subject, today=ctx.today
            )
        )
        return await _reloaded(info, pk)

    @strawberry.mutation(
        description=(
            "Decide a repair application: approval sets the record REPAIRED, which ends its publication, sharing "
            "and restrictions at once, recomputes the grade and queues record.repaired for the city credit "
            "platform; a rejection keeps the record."
        )
    )
    async def decide_repair(self, info: Info, id: strawberry.ID, approve: bool, decision: str) -> RepairApplication:
        ctx = info.context
        # A blank or overlong decision is refused before the application is looked up (the use case checks it too).
        text = required_text(decision, "decision")
        type_name, pk = parse_global_id(id)
        found = (
            await ctx.db.run(lambda conn: repair_store.by_ids(conn, [pk])) if type_name == "RepairApplication" else {}
        )
        application = found.get(pk)
        if application is None:
            raise NotFound("no such repair application")
        await check_subject(info, application.subject_id)
        # An application decided already is refused before its record is looked up.
        repair_service.check_open(application)
        record = await record_for_write(info, application.record_id)
        await ctx.db.run(
            lambda conn: repair_service.decide_repair(
                conn,
                application,
                record,
                approve=approve,
                decision=text,
                actor=ctx.principal.subject,
                today=ctx.today,
                calendar=work_calendar(info),
            )
        )
        ctx.loaders.record_by_id.clear(record.id)
        return await _reloaded(info, application.id)

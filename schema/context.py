"""The typed per-request context: the caller, the request's database connection and its dataloaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias

import strawberry

from auth.policy import Audience
from auth.tokens import Principal
from schema.loaders import Loaders
from schema.rows import RowRules
from services.audit import PendingAudit
from services.receipts import ReceiptKey
from store.pii import PiiCipher
from store.session import RequestDb

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.websockets import WebSocket


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    principal: Principal
    audience: Audience
    rows: RowRules
    db: RequestDb
    loaders: Loaders
    pii: PiiCipher
    today: date
    request_id: str | None = None
    purpose: str | None = None
    # What screening receipts are signed with (services.receipts); None: this view issues none.
    receipts: ReceiptKey | None = None
    # A request issues at most one receipt: asked for (so a second is refused), then its id once it is signed,
    # for the audit entry.
    receipt_asked: bool = False
    receipt_id: str | None = None
    # Subjects whose data this operation returned: the audit entry names them.
    seen_subjects: set[int] = field(default_factory=set)
    # Where a subject or record outside the row rule was answered as unknown: the caller cannot tell, the audit
    # entry records it among the refused fields.
    hidden: list[str] = field(default_factory=list)

    # What the operation leaves for the request boundary to record (schema/audit.py); None: nothing to audit.
    audit: PendingAudit | None = None

    def hide(self, where: str) -> None:
        self.hidden.append(where)


Info: TypeAlias = strawberry.Info[Context, None]


def path_of(info: Info) -> str:
    """The response path of the field being resolved, e.g. ``subject.legalRepresentative``."""
    return ".".join(str(p) for p in info.path.as_list())

"""The OAuth clients of the built-in authorization server and the scopes they may receive.

Authorization is data (../shared/contract/policy.md): each audience is one confidential client (RFC 6749 §2.1)
that uses the client credentials grant (RFC 6749 §4.4) and holds exactly the scopes of the policy table. The
schema layer decides what a scope grants; this module only says which client holds which scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from domain.taxonomy import Sector

__all__ = ["ALL_SCOPES", "Client", "demo_clients"]

SUBJECT_READ = "subject:read"
SUBJECT_PII = "subject:pii"
RECORD_READ = "record:read"
RECORD_DETAILS = "record:details"
RECORD_WRITE = "record:write"
GRADE_READ = "grade:read"
GRADE_EXPLAIN = "grade:explain"
SUPERVISION_READ = "supervision:read"
OBJECTION_READ = "objection:read"
OBJECTION_DECIDE = "objection:decide"
REPAIR_READ = "repair:read"
REPAIR_DECIDE = "repair:decide"
AUDIT_READ = "audit:read"

ALL_SCOPES: frozenset[str] = frozenset(
    {
        SUBJECT_READ,
        SUBJECT_PII,
        RECORD_READ,
        RECORD_DETAILS,
        RECORD_WRITE,
        GRADE_READ,
        GRADE_EXPLAIN,
        SUPERVISION_READ,
        OBJECTION_READ,
        OBJECTION_DECIDE,
        REPAIR_READ,
        REPAIR_DECIDE,
        AUDIT_READ,
    }
    | {sector.scope for sector in Sector}
)
"""Every scope of policy.md: the fixed ones plus ``restriction:<sector>`` for each ``Sector``."""

DEMO_SOURCE_UNIT = "上海市人力资源和社会保障局执法总队"
"""The source unit (原行政行为作出单位) the demo ``source-unit`` client writes records for."""


def _empty_claims() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Client:
    """A registered confidential OAuth client (RFC 6749 §2).

    ``audience`` names the policy.md audience whose schema the client sees; ``extra_claims`` are copied into
    every access token issued to the client (e.g. ``source_unit`` for a source unit, which limits the records
    it may write). The secret is kept out of ``repr`` so it never lands in a log line.
    """

    client_id: str
    audience: str
    scopes: frozenset[str]
    secret: str = field(repr=False)
    grant_types: frozenset[str] = frozenset({"client_credentials"})
    extra_claims: Mapping[str, str] = field(default_factory=_empty_claims, hash=False)

    def __post_init__(self) -> None:
        if not self.client_id or not self.secret:
            raise ValueError("a client needs a client_id and a secret")
        # Freeze what callers may have passed as mutable containers, so a Client cannot change after the
        # authorization server has been built from it.
        object.__setattr__(self, "scopes", frozenset(self.scopes))
        object.__setattr__(self, "grant_types", frozenset(self.grant_types))
        object.__setattr__(self, "extra_claims", MappingProxyType(dict(self.extra_claims)))
        for scope in self.scopes:
            if not scope or any(ch.isspace() for ch in scope):
                # RFC 6749 §3.3: scope tokens are space-delimited, so a scope can never contain a space.
                raise ValueError(f"invalid scope {scope!r} for client {self.client_id!r}")


_POLICY: dict[str, frozenset[str]] = {
    "procurement": frozenset({SUBJECT_READ, GRADE_READ, Sector.GOVERNMENT_PROCUREMENT.scope, Sector.BIDDING.scope}),
    "finance": frozenset({SUBJECT_READ, Sector.FINANCING_LOANS.scope, Sector.STARTUP_GUARANTEE_LOANS.scope}),
    "employment": frozenset({SUBJECT_READ, Sector.STARTUP_GUARANTEE_LOANS.scope, Sector.YOUTH_INTERNSHIP_BASES.scope}),
    "inspection": frozenset(
        {
            SUBJECT_READ,
            RECORD_READ,
            GRADE_READ,
            GRADE_EXPLAIN,
            SUPERVISION_READ,
            OBJECTION_READ,
            REPAIR_READ,
        }
    ),
    "portal": frozenset({SUBJECT_READ, RECORD_READ, GRADE_READ}),
    "source-unit": frozenset({SUBJECT_READ, RECORD_READ, RECORD_WRITE}),
    "admin": ALL_SCOPES,
    "auditor": frozenset({AUDIT_READ}),
}
"""The client-credentials audiences of policy.md and their scopes (the employer audience uses authorization
code + PKCE and is not a client-credentials client)."""

_EXTRA_CLAIMS: dict[str, dict[str, str]] = {"source-unit": {"source_unit": DEMO_SOURCE_UNIT}}


def demo_clients(secret_prefix: str = "demo-secret-") -> tuple[Client, ...]:  # noqa: S107  (demo only)
    """One demo client per client-credentials audience of policy.md; ``client_id`` is the audience name.

    The secrets are predictable (``secret_prefix + client_id``) on purpose: this is the embedded development
    setup, and the settings refuse to start in production while demo clients are enabled.
    """
    return tuple(
        Client(
            client_id=audience,
            audience=audience,
            scopes=scopes,
            secret=secret_prefix + audience,
            extra_claims=_EXTRA_CLAIMS.get(audience, {}),
        )
        for audience, scopes in _POLICY.items()
    )

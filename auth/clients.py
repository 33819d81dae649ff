"""The OAuth clients of the built-in authorization server and the scopes they may receive.

Authorization is data (../shared/contract/policy.md): each client-credentials audience is one confidential
client (RFC 6749 §2.1) that uses the client credentials grant (RFC 6749 §4.4) and holds exactly the scopes of
the policy table. The ``employer`` audience is different: an employer signs in on the authorization server's
login page and its client obtains the token through the authorization code grant with PKCE (RFC 6749 §4.1,
RFC 7636), so its client has registered redirect URIs and may be a public client (RFC 6749 §2.1, RFC 8252).
The schema layer decides what a scope grants; this module only says which client holds which scope.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from domain.taxonomy import Sector

__all__ = [
    "ALL_SCOPES",
    "EMPLOYER_CLIENT_ID",
    "EMPLOYER_SCOPES",
    "PORTAL_CALLBACK_PATH",
    "PORTAL_CLIENT_ID",
    "Client",
    "check_redirect_uri",
    "demo_clients",
    "demo_employer_client",
    "portal_client",
]

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
OBJECTION_FILE = "objection:file"
"""Filing an objection (异议申请) against one of the caller's own records (the employer audience)."""
REPAIR_APPLY = "repair:apply"
"""Applying for credit repair (信用修复申请) of one of the caller's own records (the employer audience)."""

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
        OBJECTION_FILE,
        REPAIR_READ,
        REPAIR_DECIDE,
        REPAIR_APPLY,
        AUDIT_READ,
    }
    | {sector.scope for sector in Sector}
)
"""Every scope of policy.md: the fixed ones plus ``restriction:<sector>`` for each ``Sector``, plus
``objection:file`` and ``repair:apply`` (the employer's "filing its own objections and repairs")."""

EMPLOYER_SCOPES: frozenset[str] = frozenset(
    {
        SUBJECT_READ,
        RECORD_READ,
        RECORD_DETAILS,
        GRADE_READ,
        GRADE_EXPLAIN,
        SUPERVISION_READ,
        OBJECTION_READ,
        REPAIR_READ,
        OBJECTION_FILE,
        REPAIR_APPLY,
    }
    | {sector.scope for sector in Sector}
)
"""The ``employer`` row of policy.md: its own subject's data, every restriction scope, and filing its own
objections and repairs. Which subject is "its own" is the ``uscc`` claim of the token, set from the account."""

EMPLOYER_CLIENT_ID = "employer-portal"

PORTAL_CLIENT_ID = "hrss-portal"
"""The employer portal the application serves itself (``/portal``), registered in every environment."""
PORTAL_CALLBACK_PATH = "/portal/callback"

_LOOPBACK_NAMES = frozenset({"localhost"})
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")

DEMO_SOURCE_UNIT = "上海市人力资源和社会保障局执法总队"
"""The source unit (原行政行为作出单位) the demo ``source-unit`` client writes records for."""


def _empty_claims() -> Mapping[str, str]:
    return MappingProxyType({})


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    """``uri`` if it may be registered as a redirection endpoint, else ``ValueError``.

    RFC 6749 §3.1.2: an absolute URI without a fragment. RFC 9700 §2.1 / RFC 8252 §8.3: ``https``, or plain
    ``http`` only to a loopback host (a development server or a native app's loopback listener). No user
    information (``https://good@evil``), and only URI characters, so that the origin can go into a
    ``Content-Security-Policy`` header verbatim.
    """
    if not isinstance(uri, str) or not _URI_CHARS.fullmatch(uri):
        raise ValueError(f"redirect URI {uri!r} contains characters that are not allowed in a URI")
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018  (urllib validates the port only when it is read)
    except ValueError as exc:
        raise ValueError(f"redirect URI {uri!r} has an invalid port") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.fragment or "#" in uri:
        raise ValueError(f"redirect URI {uri!r} must be an absolute http(s) URI without a fragment")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError(f"redirect URI {uri!r} must not contain user information")
    if not (_HOST_NAME.fullmatch(host) or (":" in host and _is_ip_address(host))):
        raise ValueError(f"redirect URI {uri!r} has an invalid host")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(f"redirect URI {uri!r} must use https (plain http only to a loopback host)")
    return uri


@dataclass(frozen=True)
class Client:
    """A registered OAuth client (RFC 6749 §2).

    ``audience`` names the policy.md audience whose schema the client sees; ``extra_claims`` are copied into
    every access token issued to the client (e.g. ``source_unit`` for a source unit, which limits the records
    it may write). The secret is kept out of ``repr`` so it never lands in a log line.

    ``redirect_uris`` are the exact redirection endpoints of an authorization code client (RFC 6749 §3.1.2;
    compared as whole strings, RFC 9700 §2.1). ``public`` marks a client that cannot keep a secret (a browser
    or native app, RFC 6749 §2.1, RFC 8252 §8.4): it may use token endpoint authentication method ``none``,
    PKCE (RFC 7636) being its proof of possession. A public client may have no ``secret``; if it has one, the
    secret is checked whenever it is presented (a wrong secret never falls back to ``none``).
    """

    client_id: str
    audience: str
    scopes: frozenset[str]
    secret: str = field(repr=False)
    grant_types: frozenset[str] = frozenset({"client_credentials"})
    extra_claims: Mapping[str, str] = field(default_factory=_empty_claims, hash=False)
    redirect_uris: tuple[str, ...] = ()
    public: bool = False

    def __post_init__(self) -> None:
        if not self.client_id or (not self.secret and not self.public):
            raise ValueError("a client needs a client_id and a secret (only a public client may have no secret)")
        # Freeze what callers may have passed as mutable containers, so a Client cannot change after the
        # authorization server has been built from it.
        object.__setattr__(self, "scopes", frozenset(self.scopes))
        object.__setattr__(self, "grant_types", frozenset(self.grant_types))
        object.__setattr__(self, "extra_claims", MappingProxyType(dict(self.extra_claims)))
        if isinstance(self.redirect_uris, str):
            raise TypeError("redirect_uris is a sequence of URIs, not one string")
        object.__setattr__(self, "redirect_uris", tuple(check_redirect_uri(uri) for uri in self.redirect_uris))
        object.__setattr__(self, "public", bool(self.public))
        if len(set(self.redirect_uris)) != len(self.redirect_uris):
            raise ValueError(f"client {self.client_id!r} registers a redirect URI twice")
        if self.public and "client_credentials" in self.grant_types:
            # RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
            raise ValueError(f"public client {self.client_id!r} may not use the client credentials grant")
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


DEMO_EMPLOYER_REDIRECT_URIS = ("http://127.0.0.1:8000/oauth/callback", "http://localhost:5173/callback")


def demo_employer_client(
    secret_prefix: str = "demo-secret-",  # noqa: S107  (demo only)
    redirect_uris: Sequence[str] = DEMO_EMPLOYER_REDIRECT_URIS,
) -> Client:
    """The demo client of the ``employer`` audience: ``employer-portal``, authorization code + PKCE only.

    It is registered as a public client (a single-page app on the Vite dev server, ``localhost:5173``, uses
    token endpoint authentication ``none``) that also holds the secret ``secret_prefix + "employer-portal"``
    for a server-side portal (``client_secret_basic``/``client_secret_post``); PKCE is required either way, so
    the secret adds nothing an attacker could skip. A production deployment registers one client per kind
    (RFC 6749 §2.1) with ``https`` redirect URIs. The redirect URIs are matched exactly (RFC 9700 §2.1).
    """
    return Client(
        client_id=EMPLOYER_CLIENT_ID,
        audience="employer",
        scopes=EMPLOYER_SCOPES,
        secret=secret_prefix + EMPLOYER_CLIENT_ID,
        grant_types=frozenset({"authorization_code"}),
        redirect_uris=tuple(redirect_uris),
        public=True,
    )


def portal_client(issuer: str) -> Client:
    """The application's own employer portal (``/portal``): a public client of the ``employer`` audience.

    The portal is static HTML and JavaScript in the employer's browser, so it cannot keep a secret: it has none
    at all and authenticates at the token endpoint with ``none``, its PKCE verifier being the proof of
    possession (RFC 6749 §2.1, RFC 7636, RFC 9700 §2.1.1). Its one redirect URI is the portal's callback on the
    issuer's own origin, compared exactly like every other (RFC 9700 §2.1); ``ValueError`` when that URI may not
    be registered (an ``http`` issuer that is not a loopback host).
    """
    return Client(
        client_id=PORTAL_CLIENT_ID,
        audience="employer",
        scopes=EMPLOYER_SCOPES,
        secret="",
        grant_types=frozenset({"authorization_code"}),
        redirect_uris=(issuer.rstrip("/") + PORTAL_CALLBACK_PATH,),
        public=True,
    )

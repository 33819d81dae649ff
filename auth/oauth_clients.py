"""The registered clients and the signed-in employer as Authlib sees them, and client authentication.

:class:`OAuthClient` adapts a :class:`~auth.clients.Client` to Authlib's ``ClientMixin`` (RFC 6749 §2): its
redirect URIs, grant types, scopes and secret. :class:`ResourceOwner` is the employer behind an
authorization code. The ``authenticate_*`` functions are the token endpoint's client authentication methods
(RFC 6749 §2.3.1 ``client_secret_basic`` and ``client_secret_post``, and ``none`` for a public client),
registered with Authlib by name; none of them tells an unknown client id from a wrong secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import ClientMixin

from .accounts import EmployerAccount
from .clients import Client

__all__ = [
    "AUTHORIZATION_CODE",
    "AUTH_METHODS",
    "CLIENT_CREDENTIALS",
    "CODE_AUTH_METHODS",
    "EMPLOYER_SUBJECT_PREFIX",
    "OAuthClient",
    "ResourceOwner",
    "authenticate_client_secret_basic",
    "authenticate_client_secret_post",
    "authenticate_none",
    "basic_credentials",
]

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
CODE_AUTH_METHODS = (*AUTH_METHODS, "none")
"""Token endpoint authentication for the authorization code grant: a confidential client authenticates as
usual; a public client sends only its ``client_id`` (``none``, RFC 6749 §2.1, §4.1.3) and proves possession
with its PKCE verifier (RFC 7636 §4.5)."""

EMPLOYER_SUBJECT_PREFIX = "employer:"

_DUMMY_SECRET = b"\x00" * 32  # compared against when there is no real secret, so every refusal costs alike


class OAuthClient(ClientMixin):  # type: ignore[misc]  # Authlib ships no type information
    """Adapts a :class:`Client` to Authlib's ``ClientMixin`` (RFC 6749 §2)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        """RFC 6749 §3.1.2.3: the request may omit ``redirect_uri`` only when exactly one is registered.

        With several registered there is no default: the server never guesses where to send a code. (Client
        credentials has no redirection endpoint at all, RFC 6749 §4.4.)
        """
        uris = self.client.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact, whole-string comparison with a registered URI (RFC 9700 §2.1, §4.1.3; RFC 6749 §3.1.2.2).

        No prefix or pattern matching, no normalization, no added query, and no loopback port wildcard
        (RFC 8252 §7.3 allows one for native apps; a registered port is required here instead).
        """
        return isinstance(redirect_uri, str) and redirect_uri in self.client.redirect_uris

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and AUTHORIZATION_CODE in self.client.grant_types

    def check_client_secret(self, client_secret: str) -> bool:
        # Constant time, on bytes: hmac.compare_digest refuses non-ASCII str, and a secret may be anything.
        # A public client without a secret compares against a dummy and always fails.
        expected = self.client.secret.encode("utf-8") if self.client.secret else _DUMMY_SECRET
        matches = hmac.compare_digest(client_secret.encode("utf-8"), expected)
        return matches and bool(self.client.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return False
        if method == "none":
            return self.client.public
        return method in AUTH_METHODS and bool(self.client.secret)

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.client.grant_types

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """RFC 6749 §3.3: no scope requested means the client's full scope; a requested scope narrows it.

        A requested scope the client does not hold makes the request fail (``None`` makes Authlib raise
        ``invalid_scope``) instead of being silently dropped, so a misconfigured caller learns at once.
        """
        if not scope or not scope.strip():
            return " ".join(sorted(self.client.scopes))
        requested = set(scope.split())
        if not requested <= self.client.scopes:
            return None
        return " ".join(sorted(requested))

    def intersect_scope(self, scope: str | None) -> str | None:
        """The scope of an authorization request: the requested scopes the client holds (RFC 6749 §3.3 lets
        the server grant less than requested; the token response then names the scope), all of the client's
        when none is requested, ``None`` (``invalid_scope``) when nothing is left."""
        requested = set(scope.split()) if scope else set()
        granted = requested & self.client.scopes if requested else set(self.client.scopes)
        return " ".join(sorted(granted)) if granted else None


@dataclass(frozen=True)
class ResourceOwner:
    """The signed-in employer as Authlib's ``user``."""

    account: EmployerAccount

    def get_user_id(self) -> str:
        # RFC 9068 §2.2: sub identifies the resource owner when one is involved.
        return EMPLOYER_SUBJECT_PREFIX + self.account.username


def basic_credentials(headers: Any) -> tuple[str, str] | None:
    """``Authorization: Basic`` credentials, or ``None`` when absent or malformed (never an exception)."""
    value = headers.get("authorization")
    if not isinstance(value, str):
        return None
    scheme, _, param = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return None
    # RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic encoding (as Authlib decodes).
    return unquote(client_id), unquote(secret)


def _authenticate(query_client: Any, client_id: Any, secret: Any) -> OAuthClient | None:
    if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id or not secret:
        return None
    client = query_client(client_id)
    if not isinstance(client, OAuthClient):
        # Burn a comparison anyway, and answer exactly as for a wrong secret: which client ids exist is not
        # revealed by status, body or (coarse) timing.
        hmac.compare_digest(secret.encode("utf-8"), _DUMMY_SECRET)
        return None
    return client if client.check_client_secret(secret) else None


def authenticate_client_secret_basic(query_client: Any, request: Any) -> OAuthClient | None:
    credentials = basic_credentials(request.headers)
    if credentials is None:
        return None
    return _authenticate(query_client, *credentials)


def authenticate_client_secret_post(query_client: Any, request: Any) -> OAuthClient | None:
    form = request.form
    return _authenticate(query_client, form.get("client_id"), form.get("client_secret"))


def authenticate_none(query_client: Any, request: Any) -> OAuthClient | None:
    """A public client identifies itself by ``client_id`` alone (RFC 6749 §2.1, §4.1.3).

    Never a fallback: a request that carries any client credentials (an ``Authorization`` header or a
    ``client_secret``) that did not verify is not let through as "no authentication".
    """
    if request.headers.get("authorization") is not None or "client_secret" in request.form:
        return None
    client_id = request.form.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        return None
    client = query_client(client_id)
    if not isinstance(client, OAuthClient) or not client.client.public:
        return None
    return client

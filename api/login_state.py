"""The built-in authorization server's shared state on PostgreSQL: its authorization codes and its keys.

Behind a load balancer the steps of one employer sign-in reach different API processes: the form is shown by
one and posted to another, the code is issued by one and exchanged at another, the token is signed by one and
checked by all. So the codes live in the database (store.login_state), and the keys come from the settings
when the deployment gives them (``HRSS_SIGNING_KEY`` or ``HRSS_SIGNING_KEY_FILE``, ``HRSS_LOGIN_CSRF_KEY``),
else from the database, where the first process creates each. ``auth`` never sees the database: it gets an
:class:`auth.codes.AuthorizationCodeStore` and a key loader from here, as it gets its throttle.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.engine_bound import EngineBound
from api.settings import Settings
from auth.codes import AuthorizationCode, code_hash
from auth.keys import SigningKeys
from auth.shared_keys import CSRF_KEY_BYTES, ServerKeys
from store import login_state

__all__ = ["DatabaseCodeStore", "KeyLoader", "configured_signing_keys", "load_server_keys", "read_signing_keys"]

log = logging.getLogger("auth.server")

SIGNING_KEY_NAME = "token-signing-key"
CSRF_KEY_NAME = "login-csrf-key"


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


class DatabaseCodeStore(EngineBound):
    """An :class:`auth.codes.AuthorizationCodeStore` on the API's engine, which the lifespan :meth:`bind` s.

    ``clock`` is the authorization server's: a code's expiry is compared with the exchanging process's now.
    Each call is a transaction of its own, committed before the redirect or the token goes out.
    """

    what = "the code store"

    def __init__(self, *, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock

    async def save(self, code: str, item: AuthorizationCode) -> None:
        stored = login_state.StoredCode(
            client_id=item.client_id,
            redirect_uri=item.redirect_uri,
            redirect_uri_param=item.redirect_uri_param,
            scope=item.scope,
            username=item.username,
            code_challenge=item.code_challenge,
            code_challenge_method=item.code_challenge_method,
            expires_at=_at(item.expires_at),
        )
        async with self.engine.begin() as conn:
            await login_state.save_code(conn, code_hash(code), stored, now=_at(self._clock()))

    async def take(self, code: str) -> AuthorizationCode | None:
        async with self.engine.begin() as conn:
            taken = await login_state.take_code(conn, code_hash(code), now=_at(self._clock()))
        if taken.replayed:
            # RFC 6749 §10.5: worth an alert; the first exchange's token cannot be revoked (RFC 9068), its short
            # lifetime bounds the damage.
            log.warning("an authorization code was presented again after it had been used")
        stored = taken.code
        if stored is None:
            return None
        return AuthorizationCode(
            client_id=stored.client_id,
            redirect_uri=stored.redirect_uri,
            redirect_uri_param=stored.redirect_uri_param,
            scope=stored.scope,
            username=stored.username,
            code_challenge=stored.code_challenge,
            code_challenge_method=stored.code_challenge_method,
            expires_at=stored.expires_at.timestamp(),
        )


def legacy_signing_key_file(settings: Settings) -> Path:
    """Where a single-process installation kept its key: offered to the database once, so that the tokens and
    audit checkpoints it signed stay valid after the upgrade."""
    return settings.data_dir / "keys" / "signing-jwk.json"


def configured_signing_keys(settings: Settings) -> SigningKeys | None:
    """The signing key the settings give (``HRSS_SIGNING_KEY`` or ``HRSS_SIGNING_KEY_FILE``), or ``None``."""
    if settings.signing_key is not None:
        return SigningKeys.from_json(settings.signing_key.get_secret_value(), source="HRSS_SIGNING_KEY")
    if settings.signing_key_file is not None:
        return SigningKeys.read(settings.signing_key_file)
    return None


async def _stored_signing_keys(conn: AsyncConnection, settings: Settings) -> SigningKeys:
    legacy = legacy_signing_key_file(settings)
    candidate = SigningKeys.load_or_create(legacy) if legacy.exists() else SigningKeys.generate()
    stored = await login_state.shared_secret(conn, SIGNING_KEY_NAME, candidate.private_jwk_json())
    return SigningKeys.from_json(stored, source="the signing key stored in the database")


async def _csrf_key(conn: AsyncConnection, settings: Settings) -> bytes:
    if settings.login_csrf_key is not None:
        return _csrf_key_from_settings(settings)
    stored = await login_state.shared_secret(conn, CSRF_KEY_NAME, secrets.token_urlsafe(CSRF_KEY_BYTES))
    return base64.urlsafe_b64decode(stored + "=" * (-len(stored) % 4))


async def load_server_keys(settings: Settings, engine: AsyncEngine) -> ServerKeys:
    """The keys every process of this deployment shares: from the settings, else from the database (created
    there by the first process to ask). Raises ``ValueError`` for a configured or stored key that is not one,
    naming where it came from, never its content."""
    signing = configured_signing_keys(settings)
    if signing is not None and settings.login_csrf_key is not None:
        return ServerKeys(signing, _csrf_key_from_settings(settings))
    async with engine.begin() as conn:
        if signing is None:
            signing = await _stored_signing_keys(conn, settings)
            if not settings.dev_mode:
                # docs/audit.md: whoever holds the audit table and this key can forge checkpoints.
                log.warning(
                    "the token signing key is kept in the database: its administrators can mint tokens and sign "
                    "audit checkpoints; give it in HRSS_SIGNING_KEY_FILE instead"
                )
        return ServerKeys(signing, await _csrf_key(conn, settings))


def _csrf_key_from_settings(settings: Settings) -> bytes:
    # Any text of the required length, hashed to the MAC's key length.
    assert settings.login_csrf_key is not None
    return hashlib.sha256(settings.login_csrf_key.get_secret_value().encode("utf-8")).digest()


async def read_signing_keys(settings: Settings, conn: AsyncConnection) -> SigningKeys | None:
    """The signing key the API processes use, for a command (audit checkpoints, demo tokens), without creating
    one: a key made by a command would sign what no JWKS the API serves can check. ``None``: there is none yet."""
    signing = configured_signing_keys(settings)
    if signing is not None:
        return signing
    stored = await login_state.stored_secret(conn, SIGNING_KEY_NAME)
    if stored is not None:
        return SigningKeys.from_json(stored, source="the signing key stored in the database")
    legacy = legacy_signing_key_file(settings)
    return SigningKeys.load_or_create(legacy) if legacy.exists() else None


class KeyLoader(EngineBound):
    """The loader of :class:`auth.shared_keys.SharedKeys` for the app: :func:`load_server_keys` on the engine
    the lifespan :meth:`bind` s."""

    what = "the key loader"

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    async def __call__(self) -> ServerKeys:
        return await load_server_keys(self._settings, self.engine)

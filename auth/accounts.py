"""Employer user accounts for the login page of the built-in authorization server.

An employer (用人单位, the ``employer`` audience of ../shared/contract/policy.md) signs in as the resource owner
of the authorization code grant (RFC 6749 §4.1); its access token is then bound to the organization's USCC
(统一社会信用代码), which comes from the account and from nothing else.

Passwords are stored as salted scrypt hashes (RFC 7914) in a self-describing string
``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (base64url, no padding), so the cost can be raised later without
breaking stored hashes. The default cost is the scrypt paper's interactive-login setting (N = 2^14, r = 8,
p = 1: 16 MiB, a few tens of milliseconds); verification compares in constant time, and
:meth:`AccountStore.authenticate` runs one full scrypt evaluation whether or not the user exists, so neither
the answer nor its timing tells which usernames exist (OWASP ASVS V2.2, no user enumeration).

This package may not import ``store``: the demo accounts are built from plain ``(uscc, name)`` pairs that the
application passes in (for the demo, ``store.demo.named_subjects()``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEMO_EMPLOYER_PASSWORD",
    "AccountStore",
    "EmployerAccount",
    "demo_employer_accounts",
    "hash_password",
    "normalize_username",
    "verify_password",
]

DEMO_EMPLOYER_PASSWORD = "demo-employer"  # noqa: S105  (documented development password, never for production)
"""The password of every demo employer account (development setup only: the settings refuse demo accounts in
production, exactly as they refuse the demo clients)."""

_SCHEME = "scrypt"
_LOG2_N = 14
_R = 8
_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024
MAX_PASSWORD_BYTES = 1024
"""Longer passwords are refused (after a full dummy evaluation), which bounds the work one login attempt can
cause."""
MAX_USERNAME_LENGTH = 256


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: bytes, salt: bytes, log2_n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=1 << log2_n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A new salted scrypt hash of ``password`` (a fresh random 128-bit salt unless one is given)."""
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError("password too long")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    if len(salt) < _SALT_BYTES:
        raise ValueError(f"a salt has at least {_SALT_BYTES} bytes")
    digest = _scrypt(raw, salt, _LOG2_N, _R, _P, _HASH_BYTES)
    return f"{_SCHEME}${_LOG2_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        return None
    # Bounds keep a corrupt or hostile hash string from asking for absurd amounts of memory or time.
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16 and len(salt) >= 8 and 16 <= len(digest) <= 64):
        return None
    return log2_n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the hash ``encoded`` (constant-time comparison; ``False`` when malformed)."""
    raw = password.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_PASSWORD_BYTES:
        return False
    return _verify(raw, encoded)


def _verify(raw: bytes, encoded: str) -> bool:
    parsed = _parse(encoded)
    if parsed is None:
        return False
    log2_n, r, p, salt, expected = parsed
    actual = _scrypt(raw, salt, log2_n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def normalize_username(username: str) -> str:
    """The canonical form of a username as typed: NFKC (full-width digits and letters from a Chinese input
    method become ASCII), surrounding white space removed, upper case (a USCC is written in capitals)."""
    return unicodedata.normalize("NFKC", username).strip().upper()


@dataclass(frozen=True)
class EmployerAccount:
    """An employer's login: the username, its password hash, and the organization it acts for.

    ``uscc`` is what binds the employer's tokens to its own subject (policy.md: "its own subject only (`me`),
    bound to the USCC in its token"). The hash is kept out of ``repr``.
    """

    username: str
    password_hash: str = field(repr=False)
    uscc: str
    display_name: str

    def __post_init__(self) -> None:
        if not self.username or normalize_username(self.username) != self.username:
            raise ValueError(f"username {self.username!r} is not in canonical form (see normalize_username)")
        if not self.uscc or any(ch.isspace() for ch in self.uscc):
            raise ValueError(f"account {self.username!r} needs a USCC without white space")
        if _parse(self.password_hash) is None:
            raise ValueError(f"account {self.username!r} has no valid scrypt password hash")


def demo_employer_accounts(organizations: Sequence[tuple[str, str]]) -> tuple[EmployerAccount, ...]:
    """One demo login per ``(uscc, name)`` pair: the username is the USCC itself, the password is
    :data:`DEMO_EMPLOYER_PASSWORD` (``demo-employer``) for every account.

    Development only, like the demo clients: the password is published in the documentation. Each account
    still gets its own salt, so the accounts look exactly like real ones to the login code.
    """
    accounts: list[EmployerAccount] = []
    for uscc, name in organizations:
        username = normalize_username(uscc)
        accounts.append(
            EmployerAccount(
                username=username,
                password_hash=hash_password(DEMO_EMPLOYER_PASSWORD),
                uscc=username,
                display_name=name,
            )
        )
    return tuple(accounts)


class AccountStore:
    """The employer accounts, looked up by (normalized) username."""

    def __init__(self, accounts: Iterable[EmployerAccount]) -> None:
        by_name: dict[str, EmployerAccount] = {}
        for account in accounts:
            if account.username in by_name:
                raise ValueError(f"account {account.username!r} is registered twice")
            by_name[account.username] = account
        self._accounts = by_name
        # Verified against when the username is unknown, so that the work done does not depend on whether the
        # account exists. The password behind it is random and thrown away: it can never match.
        self._dummy_hash = hash_password(secrets.token_urlsafe(32))

    def __len__(self) -> int:
        return len(self._accounts)

    def __contains__(self, username: object) -> bool:
        return isinstance(username, str) and normalize_username(username) in self._accounts

    def get(self, username: str) -> EmployerAccount | None:
        """The account of ``username`` (normalized first), or ``None``."""
        return self._accounts.get(normalize_username(username))

    def authenticate(self, username: str, password: str) -> EmployerAccount | None:
        """The account when ``username`` exists and ``password`` is its password, else ``None``.

        Exactly one scrypt evaluation happens in every case (unknown user, wrong password, over-long input),
        followed by a constant-time comparison, so the caller learns nothing beyond "yes" or "no". scrypt
        releases the GIL; an async caller should run this in a worker thread.
        """
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        account = self._accounts.get(normalize_username(username)) if len(username) <= MAX_USERNAME_LENGTH else None
        raw = password.encode("utf-8", errors="surrogatepass")
        if account is None or len(raw) > MAX_PASSWORD_BYTES:
            _verify(raw[:MAX_PASSWORD_BYTES], self._dummy_hash)
            return None
        return account if _verify(raw, account.password_hash) else None

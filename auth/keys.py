"""The signing key of the built-in authorization server.

Access tokens are signed with ES256 (ECDSA on P-256, RFC 7518 §3.4): asymmetric, so a resource server only
ever needs the public half (published as a JWK Set, RFC 7517 §5), and compact. The key id is the RFC 7638
thumbprint of the public key, so it is derived from the key itself and is stable across restarts.

The private JWK is persisted under the data directory so that tokens issued before a restart stay valid after
it; the file is created with mode 0o600 because whoever reads it can mint tokens for every audience.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import stat
import tempfile
from typing import Any

from joserfc.jwk import ECKey

__all__ = ["SigningKeys"]

log = logging.getLogger(__name__)

_ALG = "ES256"
_CURVE = "P-256"
_PUBLIC_MEMBERS = ("kty", "crv", "x", "y")


class SigningKeys:
    """One EC P-256 private key used to sign access tokens, with its ``kid`` and ``alg``.

    Build it with :meth:`load_or_create` (persistent) or :meth:`generate` (in memory, for tests).
    """

    alg: str
    kid: str

    def __init__(self, key: ECKey) -> None:
        if not isinstance(key, ECKey) or not key.is_private:
            raise ValueError("a signing key must be a private EC key")
        if key.curve_name != _CURVE:
            raise ValueError(f"a signing key must be on curve {_CURVE}, not {key.curve_name}")
        public = {name: key.dict_value[name] for name in _PUBLIC_MEMBERS}
        # RFC 7638: the thumbprint covers only the required public members, so it identifies the key pair.
        self.kid = ECKey.import_key(public).thumbprint()
        self.alg = _ALG
        members = dict(key.as_dict(private=True))
        members.update(kid=self.kid, alg=self.alg, use="sig")
        self._key = ECKey.import_key(members)
        self._public = {name: members[name] for name in _PUBLIC_MEMBERS}

    @classmethod
    def generate(cls) -> SigningKeys:
        """A fresh key that lives only in memory (tests, throw-away setups)."""
        return cls(ECKey.generate_key(_CURVE, private=True))

    @classmethod
    def load_or_create(cls, path: pathlib.Path) -> SigningKeys:
        """Load the private JWK stored at ``path``, or create, store and return a new one.

        The file is written to a temporary sibling and hard-linked into place, so a concurrent start never
        sees a half-written key and two processes racing on first start end up with the same key.
        """
        path = pathlib.Path(path)
        if path.exists():
            return cls._load(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = cls.generate()
        data = keys.private_jwk_json().encode()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                # Another process created the key first: use theirs, so both sign with the same key.
                return cls._load(path)
            except OSError:
                # No hard links on this file system: exclusive create still never overwrites a key.
                try:
                    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    return cls._load(path)
                with os.fdopen(out, "wb") as handle:
                    os.fchmod(handle.fileno(), 0o600)
                    handle.write(data)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        log.info("created a new token signing key at %s (kid %s)", path, keys.kid)
        return keys

    @classmethod
    def _load(cls, path: pathlib.Path) -> SigningKeys:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            # The private key must not be readable by anyone else; tighten rather than refuse to start.
            log.warning("token signing key %s had mode %o; setting it to 600", path, mode)
            path.chmod(0o600)
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def read(cls, path: pathlib.Path) -> SigningKeys:
        """The key in a file the deployment provides (read-only: it may be a mounted secret)."""
        path = pathlib.Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path} cannot be read ({type(exc).__name__})") from None
        return cls.from_json(text, source=str(path))

    @classmethod
    def from_json(cls, text: str, *, source: str) -> SigningKeys:
        """The key of a private JWK in JSON; the error names ``source`` and never any part of the text."""
        try:
            key = ECKey.import_key(json.loads(text))
            return cls(key)
        except Exception:
            raise ValueError(f"{source} does not hold a private EC P-256 JWK") from None

    def private_jwk_json(self) -> str:
        """The private JWK as JSON, to be kept where only the API processes read it (never logged)."""
        return json.dumps(self._key.as_dict(private=True), sort_keys=True)

    def private_key(self) -> ECKey:
        """The private key, with ``kid``, ``alg`` and ``use`` set, for signing."""
        return self._key

    def public_jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5) published at ``/.well-known/jwks.json``."""
        return {"keys": [{**self._public, "kid": self.kid, "alg": self.alg, "use": "sig"}]}

    def __repr__(self) -> str:
        return f"SigningKeys(alg={self.alg!r}, kid={self.kid!r})"

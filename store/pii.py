"""Personal information at rest: 居民身份证号码 are stored as a keyed hash (for look-up) and an AES-GCM copy.

Both keys are derived from one configured secret (HKDF-SHA256 with distinct labels), so the clear number exists
only in memory while a request that may see it is answered. Keys rotate: a ciphertext names the key that wrote
it (the first bytes of a digest of that key), decryption accepts the current key and the previous ones, and
look-ups try the hashes of every configured key. ``hrss-credit pii rotate`` rewrites every row under the
current key; after it the previous keys can be dropped from the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT = 2
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"hrss-credit/" + label).derive(secret)


@dataclass(frozen=True)
class _Key:
    key_id: bytes
    mac_key: bytes
    aead: AESGCM

    @classmethod
    def from_secret(cls, secret: str) -> _Key:
        raw = secret.encode()
        encryption = _derive(raw, b"id-number-encryption")
        key_id = hashlib.sha256(b"key-id" + encryption).digest()[:_KEY_ID_BYTES]
        return cls(key_id, _derive(raw, b"id-number-lookup"), AESGCM(encryption))


class PiiCipher:
    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self._secrets = (secret, tuple(previous))
        self._current = _Key.from_secret(secret)
        self._keys = {k.key_id: k for k in [_Key.from_secret(s) for s in previous] + [self._current]}
        self.rotating = bool(previous)

    def __reduce__(self) -> tuple[type[PiiCipher], tuple[str, tuple[str, ...]]]:
        """Rebuilt from its secrets in another process (the bulk import's workers): the keys are derived again."""
        return PiiCipher, self._secrets

    def lookup_hash(self, id_number: str) -> bytes:
        """The keyed hash an ID number is stored under (HMAC-SHA256 with the current key)."""
        return hmac.new(self._current.mac_key, id_number.encode(), hashlib.sha256).digest()

    def lookup_hashes(self, id_number: str) -> list[bytes]:
        """The hashes to look an ID number up by: the current key's first, then those of previous keys."""
        keys = [self._current, *(k for k in self._keys.values() if k is not self._current)]
        return [hmac.new(k.mac_key, id_number.encode(), hashlib.sha256).digest() for k in keys]

    def encrypt(self, id_number: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, id_number.encode(), b"id_number")
        return bytes([_FORMAT]) + self._current.key_id + nonce + sealed

    def decrypt(self, blob: bytes) -> str:
        if len(blob) < 1 + _KEY_ID_BYTES + _NONCE_BYTES or blob[0] != _FORMAT:
            raise ValueError("unknown PII ciphertext format")
        key = self._keys.get(blob[1 : 1 + _KEY_ID_BYTES])
        if key is None:
            raise ValueError("the PII key that wrote this value is not configured")
        nonce_at = 1 + _KEY_ID_BYTES
        return key.aead.decrypt(
            blob[nonce_at : nonce_at + _NONCE_BYTES], blob[nonce_at + _NONCE_BYTES :], b"id_number"
        ).decode()

    def is_current(self, blob: bytes) -> bool:
        return len(blob) > _KEY_ID_BYTES and blob[1 : 1 + _KEY_ID_BYTES] == self._current.key_id

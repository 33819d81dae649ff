"""Personal information at rest: 居民身份证号码 are stored as a keyed hash (for look-up) and an AES-GCM copy.

Both keys are derived from the one configured secret (HKDF-SHA256 with distinct labels), so the clear number
exists only in memory while a request that may see it is answered. The ciphertext starts with a one-byte key
version so that a later key can be rolled in without rewriting every row at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_KEY_VERSION = 1


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"hrss-credit/" + label).derive(secret)


class PiiCipher:
    def __init__(self, secret: str) -> None:
        raw = secret.encode()
        self._mac_key = _derive(raw, b"id-number-lookup")
        self._aead = AESGCM(_derive(raw, b"id-number-encryption"))

    def lookup_hash(self, id_number: str) -> bytes:
        """The keyed hash an ID number is found by (HMAC-SHA256: not reversible without the key)."""
        return hmac.new(self._mac_key, id_number.encode(), hashlib.sha256).digest()

    def encrypt(self, id_number: str) -> bytes:
        nonce = os.urandom(12)
        return bytes([_KEY_VERSION]) + nonce + self._aead.encrypt(nonce, id_number.encode(), b"id_number")

    def decrypt(self, blob: bytes) -> str:
        if not blob or blob[0] != _KEY_VERSION:
            raise ValueError("unknown PII key version")
        return self._aead.decrypt(blob[1:13], blob[13:], b"id_number").decode()

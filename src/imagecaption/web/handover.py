"""Sealing a secret for one browser: only the holder of the session token can open it.

A new API key must reach the page after the operator's form post redirects, and may be kept
nowhere readable on the way. It is stored XORed with a pad drawn from SHAKE-256 (an extendable
output function, used here as a keyed stream) of the session token and a fresh random nonce. The
server keeps only a hash of that token, so the sealed copy in the sessions file is useless
without the browser's cookie, and each seal is opened once and deleted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

_NONCE_BYTES = 16
_CONTEXT = b"imagecaption key handover\0"


def _pad(token: str, nonce: bytes, length: int) -> bytes:
    return hashlib.shake_256(_CONTEXT + nonce + token.encode()).digest(length)


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def seal(token: str, secret: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    data = secret.encode()
    return base64.urlsafe_b64encode(nonce + _xor(data, _pad(token, nonce, len(data)))).decode()


def unseal(token: str, sealed: str) -> str | None:
    """The secret, or None if the seal is damaged or was made for another token."""
    try:
        raw = base64.urlsafe_b64decode(sealed)
        nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return _xor(body, _pad(token, nonce, len(body))).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None

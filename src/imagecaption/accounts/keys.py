"""API key format, generation and hashing.

A key is ``ick-<id>-<secret>``: the id (8 base62 characters) is public and is what operators list
and revoke; the secret (40 base62 characters, about 238 bits) never leaves the client after
creation. Only ``[A-Za-z0-9-]`` is used, and there are 51 characters once hyphens are removed,
because the vendor SDKs refuse keys with other characters or fewer than 32 of them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from imagecaption.errors import Unauthorized

PREFIX = "ick"
ID_LENGTH = 8
SECRET_LENGTH = 40
_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(rf"{PREFIX}-([A-Za-z0-9]{{{ID_LENGTH}}})-[A-Za-z0-9]{{{SECRET_LENGTH}}}")


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_key() -> tuple[str, str]:
    """Return a new ``(api_key, key_id)``."""
    key_id = _random_base62(ID_LENGTH)
    return f"{PREFIX}-{key_id}-{_random_base62(SECRET_LENGTH)}", key_id


def parse_key(api_key: str) -> str:
    """Return the key id, refusing anything that is not shaped like our keys before any lookup."""
    match = _KEY.fullmatch(api_key)
    if match is None:
        raise Unauthorized("Invalid API key")
    return match.group(1)


def hash_key(api_key: str) -> str:
    """Plain SHA-256 is enough: the secret is random and long, there is nothing to brute-force."""
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def key_matches(api_key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(api_key), key_hash)

from __future__ import annotations

import hashlib
import re

import pytest

from imagecaption.accounts.keys import generate_key, hash_key, key_matches, parse_key
from imagecaption.errors import Unauthorized

# The vendor SDKs' client-side checks (the npm one is the strictest).
SDK_KEY = re.compile(r"^[A-Za-z0-9-]+$")


def test_generated_keys_pass_every_sdk_check() -> None:
    keys = [generate_key() for _ in range(200)]
    for api_key, key_id in keys:
        assert SDK_KEY.fullmatch(api_key)
        assert "_" not in api_key
        assert len(api_key.replace("-", "")) >= 32
        assert parse_key(api_key) == key_id
    assert len({api_key for api_key, _ in keys}) == len(keys)


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "ick-abc",
        "ick-ABCDEFGH-" + "a" * 39,
        "ick-ABCDEFGH-" + "a" * 41,
        "ick-ABCDEFGH-" + "a" * 39 + "_",
        "xyz-ABCDEFGH-" + "a" * 40,
        "ick-ABCDEFGH-" + "a" * 40 + "\n",
        "ick-ABCDEFGé-" + "a" * 40,
        " ick-ABCDEFGH-" + "a" * 40,
    ],
)
def test_malformed_keys_are_refused_before_any_lookup(malformed: str) -> None:
    with pytest.raises(Unauthorized, match=r"^Invalid API key$"):
        parse_key(malformed)


def test_hash_is_sha256_of_the_whole_key_and_compared_exactly() -> None:
    api_key, _ = generate_key()
    digest = hash_key(api_key)
    assert digest == hashlib.sha256(api_key.encode()).hexdigest()
    assert key_matches(api_key, digest)
    other, _ = generate_key()
    assert not key_matches(other, digest)

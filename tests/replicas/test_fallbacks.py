"""Shared state that fails falls back to this process, without raising, and says so."""

from __future__ import annotations

import pytest

from imagecaption.accounts.ratelimit import RateLimiter
from imagecaption.engine.shared_cache import (
    NoSharedCache,
    RedisCaptionCache,
    decode_caption,
    encode_caption,
    redis_key,
)
from imagecaption.models.base import Candidate, Caption, CaptionOptions
from tests.e2e.server import free_port

KEY = ("abc", "offline", CaptionOptions(max_length=20, num_captions=2))


def dead_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_caption_round_trips_through_json() -> None:
    caption = Caption("a cat", 0.9, (Candidate("a cat", 0.9), Candidate("a dog", 0.1)))
    assert decode_caption(encode_caption(caption)) == caption


def test_redis_key_depends_on_model_and_options() -> None:
    assert redis_key(KEY) == redis_key(("abc", "offline", CaptionOptions(20, 2)))
    assert redis_key(KEY) != redis_key(("abc", "other", KEY[2]))
    assert redis_key(KEY) != redis_key(("abc", "offline", CaptionOptions()))


def test_unreachable_cache_is_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisCaptionCache(dead_redis(), ttl_seconds=60)
    cache.put(KEY, Caption("a cat"))
    assert cache.get(KEY) is None
    assert cache.mode == "degraded"
    assert "shared caption cache failed" in caplog.text
    assert NoSharedCache().mode == "local"


def test_unreachable_limiter_limits_locally(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(dead_redis())
    assert limiter.mode == "shared"
    results = [limiter.hit("key", 2).allowed for _ in range(3)]
    assert results == [True, True, False]
    assert limiter.mode == "degraded"
    assert "limiting locally" in caplog.text
    assert RateLimiter().mode == "local"

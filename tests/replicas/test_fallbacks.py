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
from imagecaption.models.base import (
    Candidate,
    Caption,
    CaptionOptions,
    DetectedObject,
    Tag,
    TextLine,
)
from tests.e2e.server import free_port
from tests.replicas.cluster import REDIS_URL, require_redis

KEY = ("abc", "offline", CaptionOptions(max_length=20, num_captions=2))


def dead_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_caption_round_trips_through_json() -> None:
    caption = Caption("a cat", 0.9, (Candidate("a cat", 0.9), Candidate("a dog", 0.1)))
    assert decode_caption(encode_caption(caption)) == caption
    found = Caption(
        'A street sign that reads "Main St".',
        0.8,
        objects=(DetectedObject("stop sign", 0.7, (0.1, 0.2, 0.5, 0.6)),),
        text_lines=(TextLine("Main St", 0.99, (0.2, 0.3, 0.4, 0.35)),),
        tags=(Tag("stop sign", 0.7), Tag("outdoor", 0.65)),
    )
    assert decode_caption(encode_caption(found)) == found
    nothing_read = Caption("A cat.", 0.9, text_lines=())
    assert decode_caption(encode_caption(nothing_read)) == nothing_read


def test_redis_key_depends_on_model_and_options() -> None:
    assert redis_key(KEY) == redis_key(("abc", "offline", CaptionOptions(20, 2)))
    assert redis_key(KEY) != redis_key(("abc", "other", KEY[2]))
    assert redis_key(KEY) != redis_key(("abc", "offline", CaptionOptions()))
    unread = CaptionOptions(max_length=20, num_captions=2, read_text=False)
    assert redis_key(KEY) != redis_key(("abc", "offline", unread))


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


def test_the_shared_cache_keeps_each_language_apart() -> None:
    """A caption in German is never handed to a call that asked for English, through Redis."""
    require_redis()
    cache = RedisCaptionCache(REDIS_URL, ttl_seconds=60)
    german = ("lang-test-" + dead_redis(), "git", CaptionOptions(lang="de"))
    english = (german[0], "git", CaptionOptions(lang="en"))
    cache.put(german, Caption("Eine Katze."))
    assert cache.get(english) is None
    assert cache.get(german) == Caption("Eine Katze.")
    assert redis_key(german) != redis_key(english)

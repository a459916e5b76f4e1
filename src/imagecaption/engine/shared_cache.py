"""A caption cache shared by replicas, consulted after the local LRU.

The same image sent to two replicas is captioned once. The store is optional and never required:
every failure is logged and read as a miss, so Redis going down costs model time, not answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from typing import Protocol

from imagecaption.models.base import (
    Candidate,
    Caption,
    CaptionOptions,
    DetectedObject,
    Tag,
    TextLine,
)

log = logging.getLogger(__name__)

CacheKey = tuple[str, str, CaptionOptions]
_PREFIX = "imagecaption:caption:"
# Short: a cache that does not answer at once is worth less than running the model.
_SOCKET_TIMEOUT_SECONDS = 0.5


class SharedCache(Protocol):
    """What the engine needs from a shared cache; blocking calls, run off the event loop."""

    mode: str

    def get(self, key: CacheKey) -> Caption | None: ...

    def put(self, key: CacheKey, caption: Caption) -> None: ...


class NoSharedCache:
    """Each replica keeps its own cache (no Redis configured)."""

    mode = "local"

    def get(self, key: CacheKey) -> Caption | None:
        return None

    def put(self, key: CacheKey, caption: Caption) -> None:
        return None


def redis_key(key: CacheKey) -> str:
    """A stable key across processes and versions: Python's hash() differs per process."""
    content_hash, model, options = key
    raw = json.dumps([content_hash, model, asdict(options)], sort_keys=True)
    return _PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def encode_caption(caption: Caption) -> str:
    return json.dumps(asdict(caption))


def decode_caption(raw: str | bytes) -> Caption:
    data = json.loads(raw)
    objects = data.get("objects")
    lines = data.get("text_lines")
    tags = data.get("tags")
    return Caption(
        text=data["text"],
        score=data.get("score"),
        candidates=tuple(Candidate(c["text"], c["score"]) for c in data.get("candidates", [])),
        objects=None
        if objects is None
        else tuple(DetectedObject(o["label"], o["score"], tuple(o["box"])) for o in objects),
        text_lines=None
        if lines is None
        else tuple(TextLine(t["text"], t["score"], tuple(t["box"])) for t in lines),
        tags=None if tags is None else tuple(Tag(t["name"], t["score"]) for t in tags),
    )


class RedisCaptionCache:
    """Captions in Redis with a TTL; "degraded" while the last call to Redis failed."""

    def __init__(self, url: str, ttl_seconds: int) -> None:
        import redis

        self._client = redis.Redis.from_url(
            url,
            socket_timeout=_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=_SOCKET_TIMEOUT_SECONDS,
        )
        self._ttl = ttl_seconds
        self.mode = "shared"

    def get(self, key: CacheKey) -> Caption | None:
        try:
            raw = self._client.get(redis_key(key))
        except Exception as error:
            self._failed(error)
            return None
        self._ok()
        return None if raw is None else decode_caption(raw)  # type: ignore[arg-type]

    def put(self, key: CacheKey, caption: Caption) -> None:
        try:
            self._client.set(redis_key(key), encode_caption(caption), ex=self._ttl)
        except Exception as error:
            self._failed(error)
            return
        self._ok()

    def _failed(self, error: Exception) -> None:
        if self.mode != "degraded":
            log.warning("shared caption cache failed, using the local cache only: %s", error)
        self.mode = "degraded"

    def _ok(self) -> None:
        if self.mode == "degraded":
            log.warning("shared caption cache is back")
        self.mode = "shared"

"""Per-key requests-per-minute limits on the ``limits`` library.

A moving window is used rather than a fixed one so that a client cannot fit two full allowances
into the seconds around a minute boundary. The storage is in process memory by default; a
``redis://`` URI shares the limit between replicas.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class RateLimitStatus:
    """The outcome of one request against its key's limit, as the response headers report it.

    ``limit`` and ``remaining`` are None for unthrottled plans. ``reset_at`` is a Unix time in
    seconds: when the oldest request in the window leaves it (the next minute boundary when
    unthrottled). ``retry_after`` is the whole seconds to wait before a refused request can pass.
    """

    allowed: bool
    limit: int | None
    remaining: int | None
    reset_at: int
    retry_after: int = 0


class RateLimiter:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, key_id: str, per_minute: int | None) -> RateLimitStatus:
        """Count one request, unless it is refused: refused requests do not use up the window."""
        now = time.time()
        if per_minute is None:
            return RateLimitStatus(True, None, None, (math.floor(now / 60) + 1) * 60)
        item = RateLimitItemPerMinute(per_minute)
        allowed = self._limiter.hit(item, key_id)
        stats = self._limiter.get_window_stats(item, key_id)
        reset_at = math.ceil(stats.reset_time)
        return RateLimitStatus(
            allowed=allowed,
            limit=per_minute,
            remaining=max(stats.remaining, 0),
            reset_at=reset_at,
            retry_after=0 if allowed else max(math.ceil(stats.reset_time - now), 1),
        )

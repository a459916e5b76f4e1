"""Per-key requests-per-minute limits on the ``limits`` library.

A moving window is used rather than a fixed one so that a client cannot fit two full allowances
into the seconds around a minute boundary. The storage is in process memory by default; a
``redis://`` URI shares the limit between replicas.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


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
    """Counts in ``storage_uri``; a shared store that fails falls back to this process's memory.

    Refusing every call because Redis is down would turn a cache outage into a full outage, so a
    failing shared store costs only precision: for that call the limit is counted per replica.
    """

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._local = MovingWindowRateLimiter(storage_from_string("memory://"))
        self.shared = not storage_uri.startswith("memory://")
        shared = MovingWindowRateLimiter(storage_from_string(storage_uri)) if self.shared else None
        self._limiter = shared or self._local
        self.degraded = False

    @property
    def mode(self) -> str:
        """For /readyz: "shared", "local" (by configuration) or "degraded" (shared store down)."""
        if not self.shared:
            return "local"
        return "degraded" if self.degraded else "shared"

    def hit(self, key_id: str, per_minute: int | None) -> RateLimitStatus:
        """Count one request, unless it is refused: refused requests do not use up the window."""
        now = time.time()
        if per_minute is None:
            return RateLimitStatus(True, None, None, (math.floor(now / 60) + 1) * 60)
        item = RateLimitItemPerMinute(per_minute)
        try:
            return self._hit(self._limiter, item, key_id, now)
        except Exception as error:  # any failure of the shared store; the local one cannot fail
            if not self.degraded:
                log.warning("shared rate limit store failed, limiting locally: %s", error)
            self.degraded = True
            return self._hit(self._local, item, key_id, now)

    def _hit(
        self,
        limiter: MovingWindowRateLimiter,
        item: RateLimitItemPerMinute,
        key_id: str,
        now: float,
    ) -> RateLimitStatus:
        allowed = limiter.hit(item, key_id)
        if limiter is self._limiter and self.degraded:
            log.warning("shared rate limit store is back")
            self.degraded = False
        stats = limiter.get_window_stats(item, key_id)
        reset_at = math.ceil(stats.reset_time)
        return RateLimitStatus(
            allowed=allowed,
            limit=item.amount,
            remaining=max(stats.remaining, 0),
            reset_at=reset_at,
            retry_after=0 if allowed else max(math.ceil(stats.reset_time - now), 1),
        )

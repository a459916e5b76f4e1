"""Live latency figures in the shape the hosted service publishes (avg, p50, p75, p90, p99)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from imagecaption.accounts.store import LatencyStats


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default does."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = fraction * (len(sorted_values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def summarise(latencies_ms: Iterable[float]) -> LatencyStats:
    values = sorted(latencies_ms)
    if not values:
        return LatencyStats(0, None, None, None, None, None)
    return LatencyStats(
        count=len(values),
        avg_ms=sum(values) / len(values),
        p50_ms=percentile(values, 0.50),
        p75_ms=percentile(values, 0.75),
        p90_ms=percentile(values, 0.90),
        p99_ms=percentile(values, 0.99),
    )


class LatencyWindow:
    """The last N successful caption latencies; cheap enough to summarise on every read."""

    def __init__(self, size: int = 10_000) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, latency_ms: float) -> None:
        with self._lock:
            self._values.append(latency_ms)

    def stats(self) -> LatencyStats:
        with self._lock:
            values = list(self._values)
        return summarise(values)

"""Throughput at a given concurrency, counted only while every client had a call in flight.

A run of N calls from C clients starts with all C at once and ends with clients running out of
work one by one. Dividing N by the run's wall time counts that ramp and that drain, which with
a few calls per client can be half the run: a batching server that answers eight calls in one
batch looks as slow as its slowest batch. So the count starts at the first answer and stops at
the answer after which the clients begin to run dry (the (N-C+1)th): the N-C answers in that
window were all given while C calls were waiting, which is what "throughput at concurrency C"
means. Both our servers and the peers' workers are measured this way.
"""

from __future__ import annotations

from collections.abc import Sequence

MIN_WAVES = 4
"""Calls per client in a concurrent run, at least: the window then spans three of them."""


def busy_window(finished: Sequence[float], concurrency: int) -> tuple[int, float]:
    """(answers, seconds) while all ``concurrency`` clients were busy, from the times (seconds
    from the run's start) at which its calls finished; a sequential run counts whole."""
    ends = sorted(finished)
    if concurrency <= 1 or len(ends) <= concurrency:
        return len(ends), ends[-1] if ends else 0.0
    last = len(ends) - concurrency
    return last, ends[last] - ends[0]


def calls_per_run(calls: int, concurrency: int) -> int:
    return max(calls, MIN_WAVES * concurrency) if concurrency > 1 else calls

"""The benchmarks' throughput at a concurrency: counted while every client was busy."""

from __future__ import annotations

from benchmarks.throughput import busy_window, calls_per_run


def test_a_batching_server_is_measured_at_its_steady_rate() -> None:
    # 4 clients, answered 4 at a time every second: 4 a second, though 16 calls took 4 s
    # of which the first second was filling the first batch.
    finished = [second for second in (1.0, 2.0, 3.0, 4.0) for _ in range(4)]
    assert busy_window(finished, 4) == (12, 3.0)


def test_sequential_calls_count_whole() -> None:
    assert busy_window([0.5, 1.0, 1.5, 2.0], 1) == (4, 2.0)


def test_a_concurrent_run_is_long_enough_for_a_window() -> None:
    assert calls_per_run(8, 8) == 32
    assert calls_per_run(8, 1) == 8

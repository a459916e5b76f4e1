from __future__ import annotations

import time

import pytest

from imagecaption.accounts.ratelimit import RateLimiter


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Both this module and the ``limits`` memory storage read ``time.time``."""
    fake = FakeTime(1_700_000_000.25)
    monkeypatch.setattr(time, "time", fake)
    return fake


def test_allows_the_limit_then_refuses_until_the_window_moves(fake_time: FakeTime) -> None:
    limiter = RateLimiter()
    start = fake_time.now
    statuses = [limiter.hit("key", 3) for _ in range(3)]
    assert [s.allowed for s in statuses] == [True, True, True]
    assert [s.remaining for s in statuses] == [2, 1, 0]
    assert {s.limit for s in statuses} == {3}
    assert {s.retry_after for s in statuses} == {0}

    fake_time.now = start + 30
    refused = limiter.hit("key", 3)
    assert not refused.allowed
    assert (refused.limit, refused.remaining) == (3, 0)
    assert refused.reset_at == int(start + 60) + 1
    assert refused.retry_after == 30

    assert limiter.hit("other key", 3).allowed, "keys are limited separately"

    fake_time.now = start + 60.5
    again = [limiter.hit("key", 3) for _ in range(3)]
    assert all(s.allowed for s in again), "refused requests did not use up the window"
    assert not limiter.hit("key", 3).allowed


def test_retry_after_is_at_least_one_second(fake_time: FakeTime) -> None:
    limiter = RateLimiter()
    start = fake_time.now
    limiter.hit("key", 1)
    fake_time.now = start + 59.99
    refused = limiter.hit("key", 1)
    assert not refused.allowed
    assert refused.retry_after == 1


def test_unthrottled_plans_are_always_allowed(fake_time: FakeTime) -> None:
    limiter = RateLimiter("memory://")
    for _ in range(100):
        status = limiter.hit("key", None)
        assert status.allowed
        assert (status.limit, status.remaining, status.retry_after) == (None, None, 0)
    assert status.reset_at == 1_700_000_040  # the next minute boundary

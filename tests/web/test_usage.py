"""The dashboard's per-day figures and chart geometry, without a server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from imagecaption.accounts.store import UsageRecord
from imagecaption.web.usage import (
    DAYS,
    HEIGHT,
    TOP,
    compact,
    dashboard_charts,
    nice_ceiling,
    per_day,
)

TODAY = date(2026, 3, 10)


def call(days_ago: int, status: int = 200, latency_ms: float = 100.0) -> UsageRecord:
    at = datetime(2026, 3, 10, 12, tzinfo=UTC) - timedelta(days=days_ago)
    return UsageRecord("k", at, status, latency_ms, 10 if status == 200 else 0, "r")


def test_calls_are_counted_per_day_with_empty_days_and_nothing_older() -> None:
    calls = [call(0), call(0, latency_ms=300), call(0, status=429), call(2), call(DAYS)]
    days = per_day(calls, TODAY)
    assert len(days) == DAYS
    assert days[-1].day == TODAY
    assert days[0].day == TODAY - timedelta(days=DAYS - 1)
    today = days[-1]
    assert (today.calls, today.failed, today.credits) == (3, 1, 20)
    assert today.median_ms == 200, "failed calls do not count towards latency"
    assert days[-3].calls == 1
    assert days[-2].calls == 0
    assert days[-2].median_ms is None
    assert sum(d.calls for d in days) == 4, "the call from DAYS days ago is out of the window"


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (420, 500), (0.3, 0.5)]
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "label"), [(5, "5"), (500, "500"), (2_000, "2k"), (10_000_000, "10M")]
)
def test_compact_axis_labels(value: float, label: str) -> None:
    assert compact(value) == label


def test_bars_stack_and_stay_inside_the_chart() -> None:
    days = per_day([call(0), call(0), call(0, status=500), call(1)], TODAY)
    calls_chart, credits_chart, latency_chart = dashboard_charts(days)
    ok_today, failed_today = [m for m in calls_chart.marks if m.title.startswith("Mar 10")]
    assert ok_today.css == "ok"
    assert failed_today.css == "failed"
    assert failed_today.y + failed_today.height == pytest.approx(ok_today.y, abs=0.2)
    assert failed_today.y >= TOP - 0.1, "the tallest stack reaches the top, not beyond"
    for mark in (*calls_chart.marks, *credits_chart.marks):
        assert mark.y + mark.height <= HEIGHT
    assert len(latency_chart.marks) == 2
    assert latency_chart.line.count(",") == 2
    assert calls_chart.day_labels[-1][1] == "Mar 10", "today is always labelled"


def test_charts_without_any_calls() -> None:
    charts = dashboard_charts(per_day([], TODAY))
    assert all(not chart.marks for chart in charts)
    assert charts[2].description == "No successful calls yet."


def test_only_charts_with_several_series_have_a_legend() -> None:
    calls_chart, credits_chart, latency_chart = dashboard_charts(per_day([call(0)], TODAY))
    assert calls_chart.legend == (("succeeded", "ok"), ("failed", "failed"))
    assert credits_chart.legend == latency_chart.legend == ()

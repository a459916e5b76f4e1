"""A key's calls per day, and the geometry of the dashboard's charts.

The charts are plain SVG drawn by the template from the numbers computed here: no chart library,
no script, nothing fetched, and the same numbers are offered as a table for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from imagecaption.accounts.store import UsageRecord
from imagecaption.observability.latency import percentile

DAYS = 14
# The dashboard reads at most this many recent calls; a key busier than that in DAYS days sees
# its oldest days undercounted, which a chart meant for people can afford.
HISTORY_LIMIT = 5_000

WIDTH, HEIGHT = 400.0, 190.0
LEFT, RIGHT, TOP, BOTTOM = 44.0, 22.0, 12.0, 28.0
LABEL_EVERY = 3


@dataclass(frozen=True)
class Day:
    day: date
    calls: int
    failed: int
    credits: int
    median_ms: float | None

    @property
    def succeeded(self) -> int:
        return self.calls - self.failed


def per_day(calls: Iterable[UsageRecord], today: date, days: int = DAYS) -> list[Day]:
    """The last ``days`` days up to ``today`` (UTC), oldest first, empty days included."""
    first = today - timedelta(days=days - 1)
    buckets: dict[date, list[UsageRecord]] = {first + timedelta(days=n): [] for n in range(days)}
    for call in calls:
        bucket = buckets.get(call.at.date())
        if bucket is not None:
            bucket.append(call)
    result = []
    for day, records in buckets.items():
        latencies = sorted(r.latency_ms for r in records if 200 <= r.status < 300)
        result.append(
            Day(
                day=day,
                calls=len(records),
                failed=sum(1 for r in records if not 200 <= r.status < 300),
                credits=sum(r.credits for r in records),
                median_ms=percentile(latencies, 0.5) if latencies else None,
            )
        )
    return result


@dataclass(frozen=True)
class Mark:
    """A bar (width and height > 0) or a point, in SVG user units, with its tooltip."""

    x: float
    y: float
    width: float
    height: float
    title: str
    css: str


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    description: str
    top_label: str
    marks: tuple[Mark, ...]
    line: str = ""
    day_labels: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    # (label, CSS class) of each series, when there is more than one to tell apart.
    legend: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    baseline: float = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def compact(value: float) -> str:
    """An axis label that fits beside the chart: 500, 20k, 10M."""
    for divisor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= divisor:
            return f"{value / divisor:g}{suffix}"
    return f"{value:g}"


def _slot(index: int, count: int) -> tuple[float, float]:
    """Left edge and width of a day's slot on the x axis."""
    width = (WIDTH - LEFT - RIGHT) / count
    return LEFT + index * width, width


def _y(value: float, top_value: float) -> float:
    return HEIGHT - BOTTOM - value / top_value * (HEIGHT - TOP - BOTTOM)


def _day_labels(days: Sequence[Day]) -> tuple[tuple[float, str], ...]:
    labels = []
    for index in range(len(days) - 1, -1, -LABEL_EVERY):  # always label today
        left, width = _slot(index, len(days))
        labels.append((left + width / 2, days[index].day.strftime("%b %d")))
    return tuple(reversed(labels))


def bar_chart(
    slug: str,
    title: str,
    days: Sequence[Day],
    series: Sequence[tuple[str, str, Callable[[Day], int]]],
) -> Chart:
    """Stacked bars, one per day; ``series`` is (label, CSS class, value of a day), bottom first."""
    top_value = nice_ceiling(max((sum(v(d) for _, _, v in series) for d in days), default=0))
    marks = []
    for index, day in enumerate(days):
        left, width = _slot(index, len(days))
        stacked = 0
        for label, css, value in series:
            amount = value(day)
            if amount:
                y_top = _y(stacked + amount, top_value)
                marks.append(
                    Mark(
                        x=round(left + width * 0.15, 1),
                        y=round(y_top, 1),
                        width=round(width * 0.7, 1),
                        height=round(_y(stacked, top_value) - y_top, 1),
                        title=f"{day.day:%b %d}: {amount} {label}",
                        css=css,
                    )
                )
                stacked += amount
    total = sum(sum(v(d) for _, _, v in series) for d in days)
    return Chart(
        slug=slug,
        title=title,
        description=f"Total: {total:,} in the last {len(days)} days.",
        top_label=compact(top_value),
        marks=tuple(marks),
        day_labels=_day_labels(days),
        legend=tuple((label, css) for label, css, _ in series) if len(series) > 1 else (),
    )


def latency_chart(days: Sequence[Day]) -> Chart:
    """Median latency of successful calls per day, as a line through the days that had any."""
    values = [(i, d) for i, d in enumerate(days) if d.median_ms is not None]
    top_value = nice_ceiling(max((d.median_ms or 0 for _, d in values), default=0))
    marks = []
    for index, day in values:
        left, width = _slot(index, len(days))
        marks.append(
            Mark(
                x=round(left + width / 2, 1),
                y=round(_y(day.median_ms or 0, top_value), 1),
                width=0,
                height=0,
                title=f"{day.day:%b %d}: median {day.median_ms:.0f} ms",
                css="point",
            )
        )
    slowest = max((d.median_ms or 0 for _, d in values), default=None)
    return Chart(
        slug="latency",
        title="Median latency per day (ms)",
        description=(
            "No successful calls yet."
            if slowest is None
            else f"Slowest daily median: {slowest:.0f} ms."
        ),
        top_label=compact(top_value),
        marks=tuple(marks),
        line=" ".join(f"{m.x},{m.y}" for m in marks),
        day_labels=_day_labels(days),
    )


def dashboard_charts(days: Sequence[Day]) -> list[Chart]:
    return [
        bar_chart(
            "calls",
            "Calls per day",
            days,
            [("succeeded", "ok", lambda d: d.succeeded), ("failed", "failed", lambda d: d.failed)],
        ),
        bar_chart(
            "credits",
            "Credits used per day",
            days,
            [("credits", "credits", lambda d: d.credits)],
        ),
        latency_chart(days),
    ]

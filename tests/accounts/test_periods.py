from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imagecaption.accounts.periods import add_months, period_containing


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (at(2025, 1, 31), 1, at(2025, 2, 28)),
        (at(2024, 1, 31), 1, at(2024, 2, 29)),
        (at(2025, 1, 31), 2, at(2025, 3, 31)),
        (at(2025, 11, 15), 3, at(2026, 2, 15)),
        (at(2025, 3, 31), -1, at(2025, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_end_of_short_months(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected


def test_periods_are_counted_from_the_anchor_without_drifting() -> None:
    anchor = at(2025, 1, 31)
    assert period_containing(anchor, anchor) == (anchor, at(2025, 2, 28))
    assert period_containing(anchor, at(2025, 2, 28)) == (at(2025, 2, 28), at(2025, 3, 31))
    assert period_containing(anchor, at(2025, 3, 31, 9)) == (at(2025, 2, 28), at(2025, 3, 31))
    assert period_containing(anchor, at(2025, 3, 31)) == (at(2025, 3, 31), at(2025, 4, 30))
    assert period_containing(anchor, at(2026, 7, 4)) == (at(2026, 6, 30), at(2026, 7, 31))


def test_a_clock_behind_the_anchor_stays_in_the_first_period() -> None:
    anchor = at(2025, 5, 10)
    assert period_containing(anchor, at(2025, 4, 1)) == (anchor, at(2025, 6, 10))

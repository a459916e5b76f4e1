"""Usage warnings: the thresholds of a period's credits (80 % and 95 % by default) that a
charge crossed, recorded once per key and period, and logged once the charge has committed.

One-image calls (the account store) and job images (the job store) are charged in different
transactions; both record their warnings here, so a key that runs low hears of it the same way
whichever of them spent its credits: the dashboard's notice, the usage report, the log.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, insert, select

from imagecaption.accounts.tables import usage_warnings

# The accounts log, where operators already look for these warnings.
log = logging.getLogger("imagecaption.accounts")


@functools.cache
def _credits_at(threshold: float, allowance: int) -> int:
    """Credits used at which ``threshold`` is reached, free of binary float rounding."""
    return math.ceil(Fraction(str(threshold)) * allowance)


def record_crossed(
    connection: Connection,
    row: Any,
    credits: int,
    now: datetime,
    thresholds: Sequence[float],
) -> list[float]:
    """Record the thresholds that charging ``credits`` crossed for the key ``row`` (its row as
    updated by that charge); return the ones not recorded before.

    The caller has just updated the key's row, so it holds that row's lock until commit and no
    other transaction can record a warning for the key in between: check-then-insert is safe.
    The primary key on (key, period, threshold) stays as the last line of defence.
    """
    crossed = [
        threshold
        for threshold in thresholds
        if row.used - credits < _credits_at(threshold, row.allowance) <= row.used
    ]
    if not crossed:
        return []
    recorded = set(
        connection.scalars(
            select(usage_warnings.c.threshold).where(
                usage_warnings.c.key_id == row.id,
                usage_warnings.c.period_start == row.period_start,
            )
        )
    )
    new = [threshold for threshold in crossed if threshold not in recorded]
    if new:
        connection.execute(
            insert(usage_warnings),
            [
                {
                    "key_id": row.id,
                    "period_start": row.period_start,
                    "threshold": threshold,
                    "at": now,
                }
                for threshold in new
            ],
        )
    return new


def log_crossed(warnings: Iterable[tuple[Any, list[float]]]) -> None:
    """Log each newly crossed threshold; call it once the charges that crossed them committed."""
    for row, crossed in warnings:
        for threshold in crossed:
            log.warning(
                "usage warning: key %s has used %d of its %d credits this period (%s reached)",
                row.id,
                row.used,
                row.allowance,
                f"{threshold:.0%}",
            )

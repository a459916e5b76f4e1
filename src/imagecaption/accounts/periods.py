"""Monthly billing periods.

Periods are counted from the key's creation time rather than chained from one renewal to the
next, so a key created on 31 January renews on 28 (or 29) February and then on 31 March instead
of drifting to the 28th for ever.
"""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time ``months`` later, clamped to the last day of a shorter month."""
    year, month_index = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    month = month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_containing(anchor: datetime, now: datetime) -> tuple[datetime, datetime]:
    """``(start, end)`` of the monthly period, counted from ``anchor``, that holds ``now``."""
    months = max((now.year - anchor.year) * 12 + now.month - anchor.month, 0)
    if months and add_months(anchor, months) > now:
        months -= 1  # the anniversary in this calendar month is still ahead
    return add_months(anchor, months), add_months(anchor, months + 1)

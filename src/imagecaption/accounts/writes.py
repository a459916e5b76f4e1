"""The credit ledger's writes, as values.

Writes are values so that the store can run one alone, in a transaction of its own, or many
together (``SqlAccountStore.write_together``), where it also merges their statements: the
reservations of one key are debited by one conditional ``UPDATE``, the charges of one key
counted by one, and every reservation and usage row of the group inserted at once. That is how
the API's ``Ledger`` pays a transaction's fixed cost, and most statements, once per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imagecaption.accounts.store import Reservation


@dataclass(frozen=True)
class Reserve:
    """Take ``credits`` from the balance for a call about to run (a ``Reservation``)."""

    key_id: str
    credits: int


@dataclass(frozen=True)
class _Settling:
    """A write that settles a reservation, and so locks its key's row."""

    reservation: Reservation

    @property
    def key_id(self) -> str:
        return self.reservation.key_id


@dataclass(frozen=True)
class Charge(_Settling):
    """Charge a reservation whose answer was sent, and record the call (a ``KeyRecord``)."""

    status: int
    latency_ms: float
    request_id: str | None
    at: datetime | None = None
    """When the answer was sent; the usage row keeps it, so that calls stay in the order they
    were answered however their writes were grouped (None: when the write runs)."""


@dataclass(frozen=True)
class Release(_Settling):
    """Refund a reservation whose call failed (None)."""


@dataclass(frozen=True)
class RecordCall:
    """Record a call that was not charged (None)."""

    key_id: str
    status: int
    latency_ms: float
    request_id: str | None
    at: datetime | None = None
    """When the call was answered (None: when the write runs)."""


Write = Reserve | Charge | Release | RecordCall

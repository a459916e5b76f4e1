"""The interface the API layer uses for everything about accounts.

The API never writes SQL: it asks this interface to authenticate a key, reserve credits before
captioning, and commit or release the reservation afterwards. SQLite (the embedded default) and
PostgreSQL are the same implementation with a different URL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from imagecaption.errors import Unauthorized
from imagecaption.settings import Plan


@dataclass(frozen=True)
class KeyRecord:
    """A key's public state; the secret itself is never stored or returned after creation."""

    id: str
    name: str | None
    plan: str
    balance: int
    allowance: int
    used: int
    period_start: datetime
    renews_at: datetime
    revoked: bool
    created_at: datetime


class KeyRevoked(Unauthorized):
    """A revoked key, told apart from an unknown one only for its holder (the secret matched).

    The API answers it exactly like an unknown key ("Invalid API key"); the web pages, where a
    person reads the message, say that the key was revoked.
    """


def upgrade_credits(old: Plan | None, new: Plan) -> int:
    """Credits a plan change adds to the current period: the rise in monthly credits, if any.

    An upgrade takes effect at once, so the key gets what the bigger plan grants this very
    period; a downgrade leaves credits already granted alone, and the smaller monthly allowance
    starts at the next renewal. A plan no longer configured counts as granting nothing.
    """
    if old is None:
        return 0
    return max(new.monthly_credits - old.monthly_credits, 0)


@dataclass(frozen=True)
class Reservation:
    """Credits set aside for one call until it is committed (charged) or released (refunded).

    ``key`` is the key as the reservation left it: its balance already excludes these credits,
    which is what the call's answer reports, as its charge is committed only once the answer
    has been handed over (see ``api.routes``).
    """

    id: str
    key_id: str
    credits: int
    key: KeyRecord | None = None


@dataclass(frozen=True)
class UsageRecord:
    key_id: str
    at: datetime
    status: int
    latency_ms: float
    credits: int
    request_id: str | None


@dataclass(frozen=True)
class LatencyStats:
    """The figures the hosted service publishes for itself, for this deployment."""

    count: int
    avg_ms: float | None
    p50_ms: float | None
    p75_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class UsageSummary:
    calls: int
    charged_calls: int
    credits: int
    by_status: dict[int, int]
    latency: LatencyStats


@dataclass(frozen=True)
class UsageWarning:
    key_id: str
    threshold: float
    period_start: datetime
    at: datetime


class AccountStore(ABC):
    @abstractmethod
    def create_key(self, plan: str, name: str | None = None) -> tuple[str, KeyRecord]:
        """Return the new secret key (shown once) and its record."""

    @abstractmethod
    def authenticate(self, api_key: str) -> KeyRecord:
        """Resolve a secret key; raise Unauthorized("Invalid API key") if unknown, or its
        subclass KeyRevoked (same message) if the secret is right but the key was revoked."""

    @abstractmethod
    def get_key(self, key_id: str) -> KeyRecord: ...

    @abstractmethod
    def list_keys(self) -> list[KeyRecord]: ...

    @abstractmethod
    def revoke(self, key_id: str) -> KeyRecord: ...

    @abstractmethod
    def add_credits(self, key_id: str, credits: int) -> KeyRecord: ...

    @abstractmethod
    def set_plan(self, key_id: str, plan: str) -> KeyRecord:
        """Move a key to another plan; an upgrade adds ``upgrade_credits`` to this period."""

    @abstractmethod
    def reserve(self, key_id: str, credits: int) -> Reservation:
        """Atomically take credits from the balance; raise InsufficientCredits if it cannot."""

    @abstractmethod
    def commit(
        self, reservation: Reservation, *, status: int, latency_ms: float, request_id: str | None
    ) -> KeyRecord:
        """Charge a reservation, record the call, and record any usage warning it crossed."""

    @abstractmethod
    def release(self, reservation: Reservation) -> None:
        """Refund a reservation whose call failed."""

    @abstractmethod
    def record_call(
        self, key_id: str, *, status: int, latency_ms: float, request_id: str | None
    ) -> None:
        """Record an uncharged (failed or refused) call for the usage report."""

    @abstractmethod
    def release_expired(self) -> int:
        """Refund reservations older than their time-to-live (left by a crash); return how many."""

    @abstractmethod
    def usage(self, key_id: str | None = None, since: datetime | None = None) -> UsageSummary: ...

    @abstractmethod
    def recent_calls(self, key_id: str, limit: int = 50) -> list[UsageRecord]: ...

    @abstractmethod
    def warnings(self, key_id: str | None = None) -> list[UsageWarning]: ...

    @abstractmethod
    def close(self) -> None: ...

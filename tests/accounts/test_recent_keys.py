"""Keys remembered for a moment: never past their time, their renewal, or a revocation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from imagecaption.accounts.recent_keys import RecentKeys
from imagecaption.accounts.store import KeyRecord

NOW = datetime.now(UTC)


def _record(key_id: str = "k1", balance: int = 100, **changes: object) -> KeyRecord:
    record = KeyRecord(
        id=key_id,
        name=None,
        plan="free",
        balance=balance,
        allowance=100,
        used=0,
        period_start=NOW - timedelta(days=1),
        renews_at=NOW + timedelta(days=29),
        revoked=False,
        created_at=NOW - timedelta(days=1),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_remembered_for_its_seconds_only() -> None:
    ticks = Ticks()
    keys = RecentKeys(1.0, clock=ticks)
    keys.put("secret", _record())
    assert keys.get("secret") == _record()
    assert keys.get("other secret") is None
    ticks.now = 1.0
    assert keys.get("secret") is None


def test_a_reservation_refreshes_the_balance_but_not_the_expiry() -> None:
    ticks = Ticks()
    keys = RecentKeys(1.0, clock=ticks)
    keys.put("secret", _record())
    ticks.now = 0.5
    keys.refresh(_record(balance=90))
    found = keys.get("secret")
    assert found is not None
    assert found.balance == 90
    ticks.now = 1.0
    assert keys.get("secret") is None


def test_due_renewals_revoked_keys_and_zero_seconds_are_never_remembered() -> None:
    keys = RecentKeys(1.0, clock=Ticks())
    keys.put("due", _record("k2", renews_at=NOW - timedelta(seconds=1)))
    keys.put("revoked", _record("k3", revoked=True))
    assert keys.get("due") is None
    assert keys.get("revoked") is None
    off = RecentKeys(0.0, clock=Ticks())
    off.put("secret", _record())
    assert off.get("secret") is None


def test_the_number_of_keys_remembered_is_bounded() -> None:
    keys = RecentKeys(60.0, max_keys=3, clock=Ticks())
    for number in range(5):
        keys.put(f"secret {number}", _record(f"k{number}"))
    assert sum(keys.get(f"secret {number}") is not None for number in range(5)) <= 3
    assert keys.get("secret 4") is not None

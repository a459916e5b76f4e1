"""The account store's behaviour, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from imagecaption.accounts import sql_store
from imagecaption.accounts.plans import credit_headers
from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.accounts.store import KeyRevoked, Reservation
from imagecaption.accounts.tables import api_keys, reservations, usage
from imagecaption.errors import BadInput, InsufficientCredits, NotFound, Unauthorized
from tests.accounts.conftest import TTL_SECONDS, Clock, StoreFactory

COST = 10


def charge(store: SqlAccountStore, key_id: str, latency_ms: float = 5.0) -> None:
    reservation = store.reserve(key_id, COST)
    store.commit(reservation, status=200, latency_ms=latency_ms, request_id=None)


# Keys


def test_new_key_gets_monthly_credits_plus_bonus(store: SqlAccountStore, clock: Clock) -> None:
    api_key, record = store.create_key("free", "laptop")
    assert record.name == "laptop"
    assert record.plan == "free"
    assert (record.balance, record.allowance, record.used) == (1_500, 1_500, 0)
    assert record.period_start == clock.now == record.created_at
    assert record.renews_at.tzinfo is not None
    assert record.renews_at.astimezone(UTC) > clock.now
    assert not record.revoked
    assert store.authenticate(api_key) == record
    assert store.get_key(record.id) == record
    assert store.list_keys() == [record]


def test_only_the_hash_of_the_key_is_stored(store: SqlAccountStore, database_url: str) -> None:
    api_key, _ = store.create_key("pro")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(api_keys)).all()
    engine.dispose()
    assert len(rows) == 1
    assert rows[0].key_hash == hashlib.sha256(api_key.encode()).hexdigest()
    secret = api_key.rsplit("-", 1)[1]
    assert not any(secret in str(value) for value in rows[0])


@pytest.mark.parametrize(
    "wrong", ["", "nonsense", "ick-AAAAAAAA-" + "a" * 40, "ick-AAAAAAAA-" + "a" * 40 + "_"]
)
def test_unknown_and_malformed_keys_are_refused(store: SqlAccountStore, wrong: str) -> None:
    store.create_key("pro")
    with pytest.raises(Unauthorized, match=r"^Invalid API key$"):
        store.authenticate(wrong)


def test_a_known_id_with_the_wrong_secret_is_refused(store: SqlAccountStore) -> None:
    _, record = store.create_key("pro")
    with pytest.raises(Unauthorized, match=r"^Invalid API key$"):
        store.authenticate(f"ick-{record.id}-" + "a" * 40)


def test_revoked_key_is_refused_everywhere(store: SqlAccountStore) -> None:
    api_key, record = store.create_key("pro")
    revoked = store.revoke(record.id)
    assert revoked.revoked
    assert store.revoke(record.id) == revoked  # revoking twice changes nothing
    with pytest.raises(KeyRevoked, match=r"^Invalid API key$"):
        store.authenticate(api_key)
    with pytest.raises(Unauthorized) as wrong_secret:  # only the holder learns it was revoked
        store.authenticate(f"ick-{record.id}-" + "a" * 40)
    assert not isinstance(wrong_secret.value, KeyRevoked)
    with pytest.raises(Unauthorized, match=r"^Invalid API key$"):
        store.reserve(record.id, COST)


def test_unknown_key_ids_are_not_found(store: SqlAccountStore) -> None:
    operations: list[Callable[[], object]] = [
        lambda: store.get_key("nope"),
        lambda: store.revoke("nope"),
        lambda: store.add_credits("nope", 10),
        lambda: store.set_plan("nope", "pro"),
        lambda: store.reserve("nope", COST),
    ]
    for operation in operations:
        with pytest.raises(NotFound, match=r"^No such key: nope$"):
            operation()


def test_unknown_plans_are_bad_input(store: SqlAccountStore) -> None:
    with pytest.raises(BadInput, match="Unknown plan 'gold'"):
        store.create_key("gold")
    _, record = store.create_key("free")
    with pytest.raises(BadInput, match="Unknown plan 'gold'"):
        store.set_plan(record.id, "gold")


def test_an_upgrade_adds_the_difference_in_monthly_credits_at_once(
    store: SqlAccountStore, clock: Clock
) -> None:
    _, record = store.create_key("free")  # 1,000 a month + 500 once
    charge(store, record.id)
    upgraded = store.set_plan(record.id, "pro")
    assert upgraded.plan == "pro"
    added = 1_000_000 - 1_000
    assert (upgraded.balance, upgraded.allowance, upgraded.used) == (
        1_490 + added,
        1_500 + added,
        COST,
    )
    assert (upgraded.period_start, upgraded.renews_at) == (record.period_start, record.renews_at)
    assert store.set_plan(record.id, "pro") == upgraded, "the same plan again changes nothing"
    clock.set(record.renews_at)
    assert store.get_key(record.id).balance == upgraded.balance, "reading never renews"
    store.reserve(record.id, COST)  # renews on the pro plan
    assert store.get_key(record.id).allowance == 1_000_000


def test_a_downgrade_keeps_this_period_and_shrinks_from_the_renewal(
    store: SqlAccountStore, clock: Clock
) -> None:
    _, record = store.create_key("pro")
    charge(store, record.id)
    downgraded = store.set_plan(record.id, "tiny")
    assert downgraded.plan == "tiny"
    assert (downgraded.balance, downgraded.allowance) == (1_000_000 - COST, 1_000_000)
    clock.set(record.renews_at)
    charge(store, record.id)
    renewed = store.get_key(record.id)
    assert (renewed.balance, renewed.allowance, renewed.used) == (70 - COST, 70, COST)


def test_concurrent_upgrades_add_the_credits_once(make_store: StoreFactory) -> None:
    """Two operators (two processes) move the same key to pro at the same moment."""
    stores = [make_store(), make_store()]
    _, record = stores[0].create_key("tiny")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda s: s.set_plan(record.id, "pro"), stores))
    final = stores[0].get_key(record.id)
    assert final.plan == "pro"
    assert (final.balance, final.allowance) == (1_000_000, 1_000_000)
    assert sorted(r.allowance for r in results) == [1_000_000, 1_000_000]


def test_add_credits_grows_balance_and_allowance(store: SqlAccountStore) -> None:
    _, record = store.create_key("tiny")
    topped = store.add_credits(record.id, 30)
    assert (topped.balance, topped.allowance, topped.used) == (100, 100, 0)
    for amount in (0, -5):
        with pytest.raises(BadInput):
            store.add_credits(record.id, amount)


def test_a_colliding_key_id_is_drawn_again(
    store: SqlAccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = ("ick-AAAAAAAA-" + "a" * 40, "AAAAAAAA")
    fresh = ("ick-BBBBBBBB-" + "b" * 40, "BBBBBBBB")
    draws = iter([taken, taken, fresh])
    monkeypatch.setattr(sql_store, "generate_key", lambda: next(draws))
    assert store.create_key("pro")[1].id == "AAAAAAAA"
    assert store.create_key("pro")[1].id == "BBBBBBBB"


# Credits


def test_reserve_then_commit_charges_once(store: SqlAccountStore) -> None:
    _, record = store.create_key("tiny")
    reservation = store.reserve(record.id, COST)
    assert reservation.credits == COST
    assert store.get_key(record.id).balance == 60, "reserved credits cannot be spent twice"
    after = store.commit(reservation, status=200, latency_ms=12.5, request_id="req-1")
    assert (after.balance, after.used) == (60, 10)
    assert store.get_key(record.id) == after
    [call] = store.recent_calls(record.id)
    assert (call.status, call.credits, call.latency_ms, call.request_id) == (200, 10, 12.5, "req-1")


def test_release_refunds_once(store: SqlAccountStore) -> None:
    _, record = store.create_key("tiny")
    reservation = store.reserve(record.id, COST)
    store.release(reservation)
    store.release(reservation)
    after = store.get_key(record.id)
    assert (after.balance, after.used) == (70, 0)
    assert store.recent_calls(record.id) == []


def test_refusal_when_the_balance_cannot_cover_a_call(store: SqlAccountStore) -> None:
    _, record = store.create_key("tiny")
    for _ in range(7):
        charge(store, record.id)
    with pytest.raises(
        InsufficientCredits,
        match=r"^Insufficient credits: this call costs 10 credits and the key has 0 left\.$",
    ):
        store.reserve(record.id, COST)
    assert store.get_key(record.id).balance == 0


def test_uncharged_calls_are_recorded_without_credits(store: SqlAccountStore) -> None:
    _, record = store.create_key("tiny")
    store.record_call(record.id, status=400, latency_ms=2.0, request_id="bad")
    [call] = store.recent_calls(record.id)
    assert (call.status, call.credits) == (400, 0)
    assert store.get_key(record.id).balance == 70


def test_release_expired_refunds_only_old_reservations(
    store: SqlAccountStore, clock: Clock
) -> None:
    _, record = store.create_key("tiny")
    old = store.reserve(record.id, COST)
    clock.advance(seconds=TTL_SECONDS - 1)
    young = store.reserve(record.id, COST)
    clock.advance(seconds=1)
    assert store.release_expired() == 1
    assert store.release_expired() == 0
    assert store.get_key(record.id).balance == 60
    store.release(old)  # already refunded: nothing more
    store.release(young)
    assert store.get_key(record.id).balance == 70


def test_commit_after_expiry_charges_again_and_never_for_free(
    store: SqlAccountStore, clock: Clock
) -> None:
    _, record = store.create_key("tiny")
    late = store.reserve(record.id, COST)
    clock.advance(seconds=TTL_SECONDS)
    assert store.release_expired() == 1
    after = store.commit(late, status=200, latency_ms=1.0, request_id=None)
    assert (after.balance, after.used) == (60, 10)
    assert store.usage(record.id).charged_calls == 1


def test_commit_after_expiry_is_refused_when_the_credits_are_gone(
    store: SqlAccountStore, clock: Clock
) -> None:
    _, record = store.create_key("tiny")
    for _ in range(6):
        charge(store, record.id)
    late = store.reserve(record.id, COST)
    clock.advance(seconds=TTL_SECONDS)
    store.release_expired()
    charge(store, record.id)  # another call spends the refunded credits
    with pytest.raises(InsufficientCredits):
        store.commit(late, status=200, latency_ms=1.0, request_id=None)
    after = store.get_key(record.id)
    assert (after.balance, after.used) == (0, 70)
    assert store.usage(record.id).charged_calls == 7


# Renewal


def test_renewal_resets_to_the_monthly_credits_without_the_bonus(
    store: SqlAccountStore, clock: Clock
) -> None:
    clock.set(datetime(2025, 1, 31, 10, tzinfo=UTC))
    api_key, record = store.create_key("free")
    charge(store, record.id)
    store.add_credits(record.id, 99)
    assert record.renews_at == datetime(2025, 2, 28, 10, tzinfo=UTC)
    clock.set(datetime(2025, 2, 28, 9, 59, tzinfo=UTC))
    assert store.authenticate(api_key).used == 10, "not due yet"
    clock.set(datetime(2025, 3, 1, tzinfo=UTC))
    renewed = store.authenticate(api_key)
    assert (renewed.balance, renewed.allowance, renewed.used) == (1_000, 1_000, 0)
    assert renewed.period_start == datetime(2025, 2, 28, 10, tzinfo=UTC)
    assert renewed.renews_at == datetime(2025, 3, 31, 10, tzinfo=UTC)
    assert store.get_key(record.id) == renewed


def test_an_idle_key_renews_straight_into_the_current_period(
    store: SqlAccountStore, clock: Clock
) -> None:
    clock.set(datetime(2025, 1, 31, 10, tzinfo=UTC))
    _, record = store.create_key("tiny")
    clock.set(datetime(2025, 7, 4, tzinfo=UTC))
    store.reserve(record.id, COST)  # reserve renews too, before taking credits
    after = store.get_key(record.id)
    assert after.period_start == datetime(2025, 6, 30, 10, tzinfo=UTC)
    assert after.renews_at == datetime(2025, 7, 31, 10, tzinfo=UTC)
    assert after.balance == 60


def test_calls_in_flight_across_a_renewal_do_not_mint_credits(
    store: SqlAccountStore, clock: Clock
) -> None:
    api_key, record = store.create_key("tiny")
    refunded = store.reserve(record.id, COST)
    charged = store.reserve(record.id, COST)
    clock.set(record.renews_at)
    store.authenticate(api_key)
    store.release(refunded)
    after = store.commit(charged, status=200, latency_ms=1.0, request_id=None)
    assert (after.balance, after.allowance, after.used) == (70, 70, 0)
    assert store.usage(record.id).credits == COST, "the call is still on the record"


# Warnings and usage


def test_warnings_at_80_and_95_percent_once_per_period(
    store: SqlAccountStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="imagecaption.accounts")
    _, record = store.create_key("warn")
    for _ in range(7):
        charge(store, record.id)
    assert store.warnings() == []
    charge(store, record.id)
    assert [w.threshold for w in store.warnings(record.id)] == [0.8]
    charge(store, record.id)
    charge(store, record.id)
    warnings = store.warnings(record.id)
    assert [w.threshold for w in warnings] == [0.8, 0.95]
    assert {w.period_start for w in warnings} == {record.period_start}
    store.add_credits(record.id, 10)
    charge(store, record.id)  # crosses 95% of the larger allowance again: still one warning
    assert len(store.warnings(record.id)) == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "imagecaption.accounts"]
    assert len(messages) == 2
    assert all(m.startswith(f"usage warning: key {record.id}") for m in messages)
    clock.set(record.renews_at)
    for _ in range(8):
        charge(store, record.id)
    assert [w.threshold for w in store.warnings(record.id)] == [0.8, 0.95, 0.8]


def test_usage_summary_counts_and_percentiles(store: SqlAccountStore, clock: Clock) -> None:
    _, record = store.create_key("pro")
    _, other = store.create_key("pro")
    start = clock.now
    for latency in range(10, 101, 10):
        charge(store, record.id, latency_ms=float(latency))
        clock.advance(seconds=1)
    store.record_call(record.id, status=400, latency_ms=1.0, request_id=None)
    store.record_call(record.id, status=400, latency_ms=1.0, request_id=None)
    store.record_call(record.id, status=500, latency_ms=9_999.0, request_id=None)
    charge(store, other.id, latency_ms=1_000.0)

    summary = store.usage(record.id)
    assert (summary.calls, summary.charged_calls, summary.credits) == (13, 10, 100)
    assert summary.by_status == {200: 10, 400: 2, 500: 1}
    latency = summary.latency
    assert latency.count == 10
    assert latency.avg_ms == pytest.approx(55)
    assert latency.p50_ms == pytest.approx(55)
    assert latency.p75_ms == pytest.approx(77.5)
    assert latency.p90_ms == pytest.approx(91)
    assert latency.p99_ms == pytest.approx(99.1)

    assert store.usage().calls == 14
    assert store.usage(record.id, since=start + timedelta(seconds=5)).charged_calls == 5
    empty = store.usage("nobody")
    assert (empty.calls, empty.by_status, empty.latency.count, empty.latency.p50_ms) == (
        0,
        {},
        0,
        None,
    )
    recent = store.recent_calls(record.id, limit=4)
    assert [call.status for call in recent] == [200, 400, 400, 500][::-1]
    assert all(call.at.tzinfo is not None for call in recent)


def test_credit_headers_describe_the_period(store: SqlAccountStore, clock: Clock) -> None:
    clock.set(datetime(2025, 5, 17, 8, tzinfo=UTC))
    _, record = store.create_key("tiny")
    charge(store, record.id)
    assert credit_headers(store.get_key(record.id)) == {
        "x-api-tokens-used": "10",
        "x-api-max-tokens": "70",
        "x-api-remaining-tokens": "60",
        "x-api-current-plan": "tiny",
        "x-api-renewal": "2025-06-17",
    }


def test_reservations_table_is_empty_after_settling(
    store: SqlAccountStore, database_url: str
) -> None:
    _, record = store.create_key("tiny")
    charge(store, record.id)
    store.release(store.reserve(record.id, COST))
    store.release(Reservation(id="never-made", key_id=record.id, credits=COST))
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(select(reservations)).all() == []
        assert len(connection.execute(select(usage)).all()) == 1
    engine.dispose()
    assert store.get_key(record.id).balance == 60

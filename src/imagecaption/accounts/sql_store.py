"""The AccountStore on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Credit accounting rests on a few rules, each enforced inside the database rather than in Python:

- Credits leave the balance only through one conditional ``UPDATE ... WHERE balance >= :cost``, so
  no interleaving of threads, processes or servers can spend more than a key has.
- A reservation row records credits that left the balance for a call in flight. Committing charges
  it (``used`` grows, a usage row is written); releasing refunds it. Both delete the row with
  ``DELETE ... RETURNING`` first, so whoever deletes it is the only one to act on it: a reservation
  is refunded or charged exactly once, even when a janitor in another process expires it meanwhile.
- A reservation belongs to the period it was taken in. When a key renews while a call is in flight,
  the renewal already reset the balance, so a refund of the old period's reservation is dropped and
  its charge is recorded in the usage log but not counted in the new period's ``used``.
- Committing a reservation that expired (and was refunded) in the meantime charges the call afresh
  with the same conditional update; if the balance can no longer cover it, commit raises
  ``InsufficientCredits``. The API commits once the answer was sent, so that answer goes unpaid:
  a customer never pays for an answer they did not get, and the rare error is in their favour.
- Monthly renewal is a conditional ``UPDATE ... WHERE renews_at = :old``: of several concurrent
  renewers exactly one wins. Renewal starts the period afresh with the plan's monthly credits:
  unused credits, credits added by an operator, and the one-off signup bonus do not carry over.
- A plan change is a conditional ``UPDATE ... WHERE plan = :old``, so that of two concurrent changes
  each sees the plan it changes from, and an upgrade's credits are added exactly once.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from imagecaption.accounts.database import (
    create_database_engine,
    read_transaction,
    write_transaction,
)
from imagecaption.accounts.keys import generate_key, hash_key, key_matches, parse_key
from imagecaption.accounts.periods import period_containing
from imagecaption.accounts.plans import insufficient_credits
from imagecaption.accounts.schema import upgrade_engine
from imagecaption.accounts.store import (
    AccountStore,
    KeyRecord,
    KeyRevoked,
    Reservation,
    UsageRecord,
    UsageSummary,
    UsageWarning,
    upgrade_credits,
)
from imagecaption.accounts.tables import api_keys, reservations, usage, usage_warnings
from imagecaption.errors import BadInput, NotFound, ServiceError, Unauthorized
from imagecaption.observability.latency import summarise
from imagecaption.settings import Plan

log = logging.getLogger("imagecaption.accounts")

AnyRow: TypeAlias = Row[*tuple[Any, ...]]

# With N keys stored, a new random 8-character id is taken with probability N / 62**8 (N / 2e14).
_KEY_ID_ATTEMPTS = 3


# The statements every call runs, built once: building a statement and working out its cache key
# cost SQLAlchemy more than running it, about 0.2 ms a statement. Bound values are named ``b_*``
# (``bindparam`` may not share a column's name in an UPDATE's SET).
_SELECT_KEY = select(api_keys).where(api_keys.c.id == bindparam("b_id"))
_DEBIT_CURRENT = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam("b_id"),
        api_keys.c.balance >= bindparam("b_credits"),
        api_keys.c.revoked_at.is_(None),
        api_keys.c.renews_at > bindparam("b_now"),
    )
    .values(balance=api_keys.c.balance - bindparam("b_credits"))
    .returning(*api_keys.c)
)
_INSERT_RESERVATION = insert(reservations)
_TAKE_RESERVATION = (
    delete(reservations)
    .where(reservations.c.id == bindparam("b_id"))
    .returning(reservations.c.key_id, reservations.c.credits, reservations.c.period_start)
)
_COUNT_USED = (
    update(api_keys)
    .where(api_keys.c.id == bindparam("b_id"), api_keys.c.period_start == bindparam("b_period"))
    .values(used=api_keys.c.used + bindparam("b_credits"))
    .returning(*api_keys.c)
)
_INSERT_USAGE = insert(usage)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _record(row: AnyRow) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        plan=row.plan,
        balance=row.balance,
        allowance=row.allowance,
        used=row.used,
        period_start=row.period_start,
        renews_at=row.renews_at,
        revoked=row.revoked_at is not None,
        created_at=row.created_at,
    )


def _credits_at(threshold: float, allowance: int) -> int:
    """Credits used at which ``threshold`` is reached, free of binary float rounding."""
    return math.ceil(Fraction(str(threshold)) * allowance)


class SqlAccountStore(AccountStore):
    """Thread-safe; any number of processes may share one database.

    ``auto_migrate`` upgrades the schema on construction, which suits an embedded SQLite file; a
    deployment on a shared PostgreSQL can turn it off and run the upgrade once, on purpose.
    """

    def __init__(
        self,
        database_url: str,
        plans: Mapping[str, Plan],
        *,
        reservation_ttl_seconds: int,
        warning_thresholds: Sequence[float],
        clock: Callable[[], datetime] = _utc_now,
        auto_migrate: bool = True,
    ) -> None:
        self._engine = create_database_engine(database_url)
        self._plans = dict(plans)
        self._ttl = timedelta(seconds=reservation_ttl_seconds)
        self._thresholds = sorted(set(warning_thresholds))
        self._clock = clock
        if auto_migrate:
            upgrade_engine(self._engine)

    # Keys

    def create_key(self, plan: str, name: str | None = None) -> tuple[str, KeyRecord]:
        grant = self._plan(plan)
        now = self._clock()
        credits = grant.monthly_credits + grant.signup_bonus
        period_start, renews_at = period_containing(now, now)
        attempts_left = _KEY_ID_ATTEMPTS
        while True:
            api_key, key_id = generate_key()
            row = {
                "id": key_id,
                "key_hash": hash_key(api_key),
                "name": name,
                "plan": plan,
                "balance": credits,
                "allowance": credits,
                "used": 0,
                "period_start": period_start,
                "renews_at": renews_at,
                "revoked_at": None,
                "created_at": now,
            }
            try:
                with write_transaction(self._engine) as connection:
                    connection.execute(insert(api_keys).values(row))
            except IntegrityError:
                attempts_left -= 1
                if not attempts_left:
                    raise
            else:
                return api_key, self._record_by_id(key_id)

    def authenticate(self, api_key: str) -> KeyRecord:
        key_id = parse_key(api_key)
        with read_transaction(self._engine) as connection:
            row = connection.execute(_SELECT_KEY, {"b_id": key_id}).first()
        if row is None or not key_matches(api_key, row.key_hash):
            raise Unauthorized("Invalid API key")
        if row.revoked_at is not None:
            raise KeyRevoked("Invalid API key")
        now = self._clock()
        if now >= row.renews_at:
            with write_transaction(self._engine) as connection:
                row = self._current(connection, key_id, now)
        return _record(row)

    def get_key(self, key_id: str) -> KeyRecord:
        return self._record_by_id(key_id)

    def list_keys(self) -> list[KeyRecord]:
        with read_transaction(self._engine) as connection:
            rows = connection.execute(
                select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
            ).all()
        return [_record(row) for row in rows]

    def revoke(self, key_id: str) -> KeyRecord:
        with write_transaction(self._engine) as connection:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            return _record(self._existing(connection, key_id))

    def add_credits(self, key_id: str, credits: int) -> KeyRecord:
        """Top up the current period; a renewal that is due is applied first, not after."""
        if credits <= 0:
            raise BadInput("Credits to add must be a positive whole number.")
        with write_transaction(self._engine) as connection:
            self._current(connection, key_id, self._clock())
            row = connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(
                    balance=api_keys.c.balance + credits,
                    allowance=api_keys.c.allowance + credits,
                )
                .returning(*api_keys.c)
            ).one()
        return _record(row)

    def set_plan(self, key_id: str, plan: str) -> KeyRecord:
        """Change the plan; its price and rate limit apply at once, and so does an upgrade's
        extra credits (see ``upgrade_credits``); a downgrade's smaller allowance waits for the
        renewal."""
        new = self._plan(plan)
        with write_transaction(self._engine) as connection:
            while True:
                row = self._current(connection, key_id, self._clock())
                extra = upgrade_credits(self._plans.get(row.plan), new)
                changed = connection.execute(
                    update(api_keys)
                    .where(api_keys.c.id == key_id, api_keys.c.plan == row.plan)
                    .values(
                        plan=plan,
                        balance=api_keys.c.balance + extra,
                        allowance=api_keys.c.allowance + extra,
                    )
                    .returning(*api_keys.c)
                ).first()
                if changed is not None:  # else another change came first: start from its plan
                    return _record(changed)

    # Credits

    def reserve(self, key_id: str, credits: int) -> Reservation:
        if credits < 0:
            raise ValueError("cannot reserve a negative number of credits")
        reservation_id = uuid.uuid4().hex
        now = self._clock()
        with write_transaction(self._engine) as connection:
            # One statement when the key's period is current, as it almost always is.
            row = connection.execute(
                _DEBIT_CURRENT, {"b_id": key_id, "b_credits": credits, "b_now": now}
            ).first()
            if row is None:  # renewal due, revoked, or too few credits: the careful way
                row = self._debit(connection, key_id, credits, now, charge=False)
            connection.execute(
                _INSERT_RESERVATION,
                {
                    "id": reservation_id,
                    "key_id": key_id,
                    "credits": credits,
                    "period_start": row.period_start,
                    "created_at": now,
                    "expires_at": now + self._ttl,
                },
            )
        return Reservation(id=reservation_id, key_id=key_id, credits=credits, key=_record(row))

    def commit(
        self, reservation: Reservation, *, status: int, latency_ms: float, request_id: str | None
    ) -> KeyRecord:
        now = self._clock()
        key_id = reservation.key_id
        with write_transaction(self._engine) as connection:
            held = self._take_reservation(connection, reservation.id)
            counted: AnyRow | None
            if held is None:
                # Expired and refunded while the call ran: charge it now, or refuse it.
                credits = reservation.credits
                counted = self._debit(connection, key_id, credits, now, charge=True)
            else:
                credits = held.credits
                counted = connection.execute(
                    _COUNT_USED,
                    {"b_id": key_id, "b_period": held.period_start, "b_credits": credits},
                ).first()
            connection.execute(
                _INSERT_USAGE,
                {
                    "key_id": key_id,
                    "at": now,
                    "status": status,
                    "latency_ms": latency_ms,
                    "credits": credits,
                    "request_id": request_id,
                },
            )
            crossed = (
                [] if counted is None else self._record_warnings(connection, counted, credits, now)
            )
            row = counted if counted is not None else self._existing(connection, key_id)
        for threshold in crossed:
            log.warning(
                "usage warning: key %s has used %d of its %d credits this period (%s reached)",
                key_id,
                row.used,
                row.allowance,
                f"{threshold:.0%}",
            )
        return _record(row)

    def release(self, reservation: Reservation) -> None:
        """Refund once; releasing an already settled or expired reservation does nothing."""
        with write_transaction(self._engine) as connection:
            held = self._take_reservation(connection, reservation.id)
            if held is not None:
                self._refund(connection, held)

    def release_expired(self) -> int:
        with write_transaction(self._engine) as connection:
            expired = connection.execute(
                delete(reservations)
                .where(reservations.c.expires_at <= self._clock())
                .returning(
                    reservations.c.key_id, reservations.c.credits, reservations.c.period_start
                )
            ).all()
            # A fixed order of row locks keeps concurrent janitors from deadlocking on PostgreSQL.
            for held in sorted(expired, key=lambda held: held.key_id):
                self._refund(connection, held)
        return len(expired)

    # Usage

    def record_call(
        self, key_id: str, *, status: int, latency_ms: float, request_id: str | None
    ) -> None:
        with write_transaction(self._engine) as connection:
            connection.execute(
                _INSERT_USAGE,
                {
                    "key_id": key_id,
                    "at": self._clock(),
                    "status": status,
                    "latency_ms": latency_ms,
                    "credits": 0,
                    "request_id": request_id,
                },
            )

    def usage(self, key_id: str | None = None, since: datetime | None = None) -> UsageSummary:
        """Counts in SQL; percentiles in Python over the successful calls, fine for a report."""
        conditions: list[ColumnElement[bool]] = []
        if key_id is not None:
            conditions.append(usage.c.key_id == key_id)
        if since is not None:
            conditions.append(usage.c.at >= since)
        with read_transaction(self._engine) as connection:
            per_status = connection.execute(
                select(
                    usage.c.status,
                    func.count(),
                    func.sum(case((usage.c.credits > 0, 1), else_=0)),
                    func.sum(usage.c.credits),
                )
                .where(*conditions)
                .group_by(usage.c.status)
            ).all()
            latencies = connection.scalars(
                select(usage.c.latency_ms).where(
                    *conditions, usage.c.status >= 200, usage.c.status < 300
                )
            ).all()
        return UsageSummary(
            calls=sum(row[1] for row in per_status),
            charged_calls=sum(int(row[2]) for row in per_status),
            credits=sum(int(row[3]) for row in per_status),
            by_status={row[0]: row[1] for row in per_status},
            latency=summarise(latencies),
        )

    def recent_calls(self, key_id: str, limit: int = 50) -> list[UsageRecord]:
        with read_transaction(self._engine) as connection:
            rows = connection.execute(
                select(usage)
                .where(usage.c.key_id == key_id)
                .order_by(usage.c.at.desc(), usage.c.id.desc())
                .limit(limit)
            ).all()
        return [
            UsageRecord(
                key_id=row.key_id,
                at=row.at,
                status=row.status,
                latency_ms=row.latency_ms,
                credits=row.credits,
                request_id=row.request_id,
            )
            for row in rows
        ]

    def warnings(self, key_id: str | None = None) -> list[UsageWarning]:
        query = select(usage_warnings).order_by(usage_warnings.c.at, usage_warnings.c.threshold)
        if key_id is not None:
            query = query.where(usage_warnings.c.key_id == key_id)
        with read_transaction(self._engine) as connection:
            rows = connection.execute(query).all()
        return [
            UsageWarning(
                key_id=row.key_id, threshold=row.threshold, period_start=row.period_start, at=row.at
            )
            for row in rows
        ]

    def close(self) -> None:
        self._engine.dispose()

    # Helpers; every one that takes a connection runs inside the caller's transaction.

    def _plan(self, name: str) -> Plan:
        plan = self._plans.get(name)
        if plan is None:
            raise BadInput(f"Unknown plan {name!r}; plans: {', '.join(self._plans)}.")
        return plan

    def _select(self, connection: Connection, key_id: str) -> AnyRow | None:
        return connection.execute(_SELECT_KEY, {"b_id": key_id}).first()

    def _existing(self, connection: Connection, key_id: str) -> AnyRow:
        row = self._select(connection, key_id)
        if row is None:
            raise NotFound(f"No such key: {key_id}")
        return row

    def _record_by_id(self, key_id: str) -> KeyRecord:
        with read_transaction(self._engine) as connection:
            return _record(self._existing(connection, key_id))

    def _current(self, connection: Connection, key_id: str, now: datetime) -> AnyRow:
        """The key's row, renewed first if its period is over."""
        row = self._existing(connection, key_id)
        if now < row.renews_at:
            return row
        plan = self._plan(row.plan)
        period_start, renews_at = period_containing(row.created_at, now)
        renewed = connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.renews_at == row.renews_at)
            .values(
                balance=plan.monthly_credits,
                allowance=plan.monthly_credits,
                used=0,
                period_start=period_start,
                renews_at=renews_at,
            )
            .returning(*api_keys.c)
        ).first()
        if renewed is None:  # another transaction renewed it first
            return self._existing(connection, key_id)
        log.info("renewed key %s: %d credits until %s", key_id, plan.monthly_credits, renews_at)
        return renewed

    def _debit(
        self, connection: Connection, key_id: str, credits: int, now: datetime, *, charge: bool
    ) -> AnyRow:
        """Take credits if the balance covers them, else raise; ``charge`` also counts them."""
        self._current(connection, key_id, now)
        values: dict[str, Any] = {"balance": api_keys.c.balance - credits}
        if charge:
            values["used"] = api_keys.c.used + credits
        row = connection.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                api_keys.c.balance >= credits,
                api_keys.c.revoked_at.is_(None),
            )
            .values(values)
            .returning(*api_keys.c)
        ).first()
        if row is None:
            raise self._refusal(self._existing(connection, key_id), credits)
        return row

    @staticmethod
    def _refusal(row: AnyRow, credits: int) -> ServiceError:
        if row.revoked_at is not None:
            return Unauthorized("Invalid API key")
        return insufficient_credits(_record(row), credits)

    def _take_reservation(self, connection: Connection, reservation_id: str) -> AnyRow | None:
        """Delete the reservation and return it, or None if someone else already settled it."""
        return connection.execute(_TAKE_RESERVATION, {"b_id": reservation_id}).first()

    def _refund(self, connection: Connection, held: AnyRow) -> None:
        """Give a reservation back, unless its period has ended and the balance was reset since."""
        connection.execute(
            update(api_keys)
            .where(api_keys.c.id == held.key_id, api_keys.c.period_start == held.period_start)
            .values(balance=api_keys.c.balance + held.credits)
        )

    def _record_warnings(
        self, connection: Connection, row: AnyRow, credits: int, now: datetime
    ) -> list[float]:
        """Record the thresholds this charge crossed; return the ones not recorded before.

        The caller has just updated the key's row, so it holds that row's lock until commit and no
        other transaction can record a warning for the key in between: check-then-insert is safe.
        The primary key on (key, period, threshold) stays as the last line of defence.
        """
        crossed = [
            threshold
            for threshold in self._thresholds
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

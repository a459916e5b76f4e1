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
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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

from imagecaption.accounts import driver_statements
from imagecaption.accounts.database import (
    HeldConnection,
    create_database_engine,
    read_transaction,
    write_transaction,
)
from imagecaption.accounts.driver_statements import DriverStatements, HeldRow, KeyRow
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
from imagecaption.accounts.usage_warnings import log_crossed, record_crossed
from imagecaption.accounts.writes import Charge, RecordCall, Release, Reserve, Write
from imagecaption.errors import BadInput, NotFound, ServiceError, Unauthorized
from imagecaption.observability.latency import summarise
from imagecaption.settings import Plan

log = logging.getLogger("imagecaption.accounts")

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
AnyKey: TypeAlias = AnyRow | KeyRow
"""A key's row, from SQLAlchemy or from the driver (``driver_statements``)."""
AnyHeld: TypeAlias = AnyRow | HeldRow
"""A reservation's row, likewise."""

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
_TAKE_RESERVATIONS = (
    delete(reservations)
    .where(reservations.c.id.in_(bindparam("b_ids", expanding=True)))
    .returning(
        reservations.c.id,
        reservations.c.key_id,
        reservations.c.credits,
        reservations.c.period_start,
    )
)
_COUNT_USED = (
    update(api_keys)
    .where(api_keys.c.id == bindparam("b_id"), api_keys.c.period_start == bindparam("b_period"))
    .values(used=api_keys.c.used + bindparam("b_credits"))
    .returning(*api_keys.c)
)
_INSERT_USAGE = insert(usage)


class CoreStatements:
    """The statements of ``driver_statements.DriverStatements`` through SQLAlchemy's Core, for
    drivers that have no fast path."""

    def debit_current(
        self, connection: Connection, key_id: str, credits: int, now: datetime
    ) -> AnyKey | None:
        params = {"b_id": key_id, "b_credits": credits, "b_now": now}
        return connection.execute(_DEBIT_CURRENT, params).first()

    def count_used(
        self, connection: Connection, key_id: str, period: datetime, credits: int
    ) -> AnyKey | None:
        params = {"b_id": key_id, "b_period": period, "b_credits": credits}
        return connection.execute(_COUNT_USED, params).first()

    def take_reservations(self, connection: Connection, ids: Sequence[str]) -> Sequence[AnyHeld]:
        return connection.execute(_TAKE_RESERVATIONS, {"b_ids": list(ids)}).all()

    def insert_reservations(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        connection.execute(_INSERT_RESERVATION, rows)

    def insert_usage(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        connection.execute(_INSERT_USAGE, rows)


CreditStatements: TypeAlias = DriverStatements | CoreStatements


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _record(row: AnyKey) -> KeyRecord:
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


def _usage_row(write: Charge | RecordCall, credits: int, now: datetime) -> dict[str, Any]:
    return {
        "key_id": write.key_id,
        "at": write.at or now,
        "status": write.status,
        "latency_ms": write.latency_ms,
        "credits": credits,
        "request_id": write.request_id,
    }


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
        dialect = self._engine.dialect
        self._statements: CreditStatements = (
            DriverStatements(dialect) if driver_statements.supported(dialect) else CoreStatements()
        )
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
        row: AnyKey | None
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

    # Credits: each write is a value (``accounts.writes``), run alone by the methods below or
    # with others in one transaction by ``write_together`` (the API's ``Ledger`` does).

    def reserve(self, key_id: str, credits: int) -> Reservation:
        if credits < 0:
            raise ValueError("cannot reserve a negative number of credits")
        reservation: Reservation = self._write_one(Reserve(key_id, credits))
        return reservation

    def commit(
        self, reservation: Reservation, *, status: int, latency_ms: float, request_id: str | None
    ) -> KeyRecord:
        record: KeyRecord = self._write_one(Charge(reservation, status, latency_ms, request_id))
        return record

    def release(self, reservation: Reservation) -> None:
        """Refund once; releasing an already settled or expired reservation does nothing."""
        self._write_one(Release(reservation))

    def record_call(
        self, key_id: str, *, status: int, latency_ms: float, request_id: str | None
    ) -> None:
        self._write_one(RecordCall(key_id, status, latency_ms, request_id))

    def _write_one(self, write: Write) -> Any:
        outcome = self.write_together([write])[0]
        if isinstance(outcome, ServiceError):
            raise outcome
        return outcome

    def held_connection(self) -> HeldConnection:
        """A connection for one thread that runs ``write_together`` all the time."""
        return HeldConnection(self._engine)

    def write_together(
        self, writes: Sequence[Write], kept: HeldConnection | None = None
    ) -> list[Any]:
        """Run writes in one transaction; each one's result, or the ServiceError that refused
        it, in its place. The outcome is the same as running them one after another, in some
        order: the reservations of a key are debited together when its balance covers them
        all, else one by one as usual.

        A refusal fails only its own write: each refuses before it changes anything of its own
        (a renewal that was due may have been applied, and stands). Any other error rolls the
        whole transaction back and is raised, so that whatever raises has written nothing.
        Key rows are locked in the order of their ids (reservation rows first, as the janitor
        does), so that concurrent groups never deadlock each other. ``kept``: the calling
        thread's own connection, else one from the pool.
        """
        now = self._clock()
        outcomes: list[Any] = [None] * len(writes)
        warnings: list[tuple[AnyKey, list[float]]] = []
        transaction = write_transaction(self._engine) if kept is None else kept.transaction()
        with transaction as connection:
            taken = self._take_reservations(
                connection,
                [w.reservation.id for w in writes if isinstance(w, Charge | Release)],
            )
            new_reservations: list[dict[str, Any]] = []
            usage_rows: list[dict[str, Any]] = []
            by_key: dict[str, list[tuple[int, Write]]] = {}
            for i, write in enumerate(writes):
                by_key.setdefault(write.key_id, []).append((i, write))
            for key_id, mine in sorted(by_key.items()):
                reserves = [(i, w) for i, w in mine if isinstance(w, Reserve)]
                charges = [(i, w) for i, w in mine if isinstance(w, Charge)]
                for _, write in mine:
                    if isinstance(write, Release):
                        held = taken.pop(write.reservation.id, None)
                        if held is not None:
                            self._refund(connection, held)
                    elif isinstance(write, RecordCall):
                        usage_rows.append(_usage_row(write, 0, now))
                if reserves:
                    self._reserve(connection, key_id, reserves, now, outcomes, new_reservations)
                if charges:
                    warnings += self._charge(
                        connection, key_id, charges, taken, now, outcomes, usage_rows
                    )
            if new_reservations:
                self._statements.insert_reservations(connection, new_reservations)
            if usage_rows:
                self._statements.insert_usage(connection, usage_rows)
        log_crossed(warnings)  # once the charges that crossed them have committed
        return outcomes

    def _reserve(
        self,
        connection: Connection,
        key_id: str,
        reserves: list[tuple[int, Reserve]],
        now: datetime,
        outcomes: list[Any],
        new_reservations: list[dict[str, Any]],
    ) -> None:
        """Debit a key for its reservations: all at once when its balance covers them (one
        statement, as almost always), else one by one, each refused or not on its own."""
        total = sum(write.credits for _, write in reserves)
        row = self._statements.debit_current(connection, key_id, total, now)
        after: list[tuple[int, Reserve, KeyRecord]] = []
        if row is not None:
            # What each would have seen had they run one after another, in this order.
            record, left = _record(row), total
            for i, write in reserves:
                left -= write.credits
                after.append((i, write, replace(record, balance=record.balance + left)))
        else:  # renewal due, revoked, or too few credits: the careful way, one by one
            for i, write in reserves:
                try:
                    one = self._debit(connection, key_id, write.credits, now, charge=False)
                except ServiceError as refused:
                    outcomes[i] = refused
                else:
                    after.append((i, write, _record(one)))
        for i, write, record in after:
            reservation_id = uuid.uuid4().hex
            new_reservations.append(
                {
                    "id": reservation_id,
                    "key_id": key_id,
                    "credits": write.credits,
                    "period_start": record.period_start,
                    "created_at": now,
                    "expires_at": now + self._ttl,
                }
            )
            outcomes[i] = Reservation(reservation_id, key_id, write.credits, record)

    def _charge(
        self,
        connection: Connection,
        key_id: str,
        charges: list[tuple[int, Charge]],
        taken: dict[str, AnyHeld],
        now: datetime,
        outcomes: list[Any],
        usage_rows: list[dict[str, Any]],
    ) -> list[tuple[AnyKey, list[float]]]:
        """Count a key's charges as used, one statement per period their reservations belong
        to; a reservation that expired (and was refunded) while its call ran is charged afresh,
        or refused when the balance no longer covers it."""
        by_period: dict[datetime, list[tuple[int, Charge, int]]] = {}
        warnings: list[tuple[AnyKey, list[float]]] = []
        for i, write in charges:
            held = taken.pop(write.reservation.id, None)  # settled once, even if named twice
            if held is not None:
                by_period.setdefault(held.period_start, []).append((i, write, held.credits))
                continue
            credits = write.reservation.credits
            try:
                debited = self._debit(connection, key_id, credits, now, charge=True)
            except ServiceError as refused:
                outcomes[i] = refused
                continue
            usage_rows.append(_usage_row(write, credits, now))
            warnings.append((debited, self._record_warnings(connection, debited, credits, now)))
            outcomes[i] = _record(debited)
        for period, counted in by_period.items():
            total = sum(credits for _, _, credits in counted)
            row = self._statements.count_used(connection, key_id, period, total)
            if row is None:  # the key renewed since: recorded, not counted in the new period
                record = _record(self._existing(connection, key_id))
            else:
                warnings.append((row, self._record_warnings(connection, row, total, now)))
                record = _record(row)
            for i, write, credits in counted:
                usage_rows.append(_usage_row(write, credits, now))
                outcomes[i] = record
        return warnings

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

    def now(self) -> datetime:
        """The store's clock, for writes stamped when they are submitted (``Ledger``)."""
        return self._clock()

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

    def _select(self, connection: Connection, key_id: str) -> AnyKey | None:
        return connection.execute(_SELECT_KEY, {"b_id": key_id}).first()

    def _existing(self, connection: Connection, key_id: str) -> AnyKey:
        row = self._select(connection, key_id)
        if row is None:
            raise NotFound(f"No such key: {key_id}")
        return row

    def _record_by_id(self, key_id: str) -> KeyRecord:
        with read_transaction(self._engine) as connection:
            return _record(self._existing(connection, key_id))

    def _current(self, connection: Connection, key_id: str, now: datetime) -> AnyKey:
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
    ) -> AnyKey:
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
    def _refusal(row: AnyKey, credits: int) -> ServiceError:
        if row.revoked_at is not None:
            return Unauthorized("Invalid API key")
        return insufficient_credits(_record(row), credits)

    def _take_reservations(
        self, connection: Connection, reservation_ids: list[str]
    ) -> dict[str, AnyHeld]:
        """Delete the reservations and return them by id; one settled by someone else already
        (an expired one, refunded by the janitor) is missing."""
        if not reservation_ids:
            return {}
        rows = self._statements.take_reservations(connection, reservation_ids)
        return {row.id: row for row in rows}

    def _refund(self, connection: Connection, held: AnyHeld) -> None:
        """Give a reservation back, unless its period has ended and the balance was reset since."""
        connection.execute(
            update(api_keys)
            .where(api_keys.c.id == held.key_id, api_keys.c.period_start == held.period_start)
            .values(balance=api_keys.c.balance + held.credits)
        )

    def _record_warnings(
        self, connection: Connection, row: AnyKey, credits: int, now: datetime
    ) -> list[float]:
        return record_crossed(connection, row, credits, now, self._thresholds)

"""Jobs and their images in the accounts database: the one place that decides who pays what.

The rules, each kept inside one transaction:

- Submitting a job takes all its credits from the balance at once (``held``) with one
  conditional ``UPDATE ... WHERE balance >= :credits``, or refuses it before anything runs.
- A worker claims images with a lease (a random token and a deadline). Finishing an image is a
  conditional update on that token: only the holder of a live claim can finish it, so an image
  is charged (``used`` grows, a usage row is written) or refunded exactly once, even when a
  replica died holding it and another has taken it over since.
- Failed and cancelled images are refunded; an image whose key renewed meanwhile is neither
  counted in nor refunded to the new period, as for one call (see ``sql_store``).
- Claims are fair: the key with the fewest images in the workers' hands goes first, then the
  job claimed least recently, so one key's big job cannot take every worker from another key.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from imagecaption.accounts.database import (
    create_database_engine,
    read_transaction,
    write_transaction,
)
from imagecaption.accounts.plans import credit_headers
from imagecaption.accounts.sql_store import AnyRow
from imagecaption.accounts.sql_store import _record as key_record
from imagecaption.accounts.store import KeyRecord
from imagecaption.accounts.tables import api_keys, job_images, jobs, usage
from imagecaption.accounts.usage_warnings import log_crossed, record_crossed
from imagecaption.errors import InsufficientCredits, NotFound

QUEUED, RUNNING, DONE, CANCELLED = "queued", "running", "done", "cancelled"
ACTIVE = (QUEUED, RUNNING)
PENDING, CLAIMED, SUCCEEDED, FAILED = "pending", "running", "done", "failed"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobRecord:
    id: str
    key_id: str
    status: str
    total: int
    pending: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    cost: int
    options: dict[str, Any]
    callback_url: str | None
    callback_secret: str | None
    callback_attempts: int
    callback_status: int | None
    callback_delivered_at: datetime | None
    callback_next_at: datetime | None
    created_at: datetime
    finished_at: datetime | None

    def summary(self) -> dict[str, Any]:
        """What the API and the webhook say about a job, without its results."""
        return {
            "job_id": self.id,
            "status": self.status,
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "created_at": self.created_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }

    @property
    def callback_state(self) -> str | None:
        """Where the webhook stands: ``waiting`` (the job has not ended, or the first attempt
        is about to be made), ``retrying``,
        ``delivered`` or ``failed`` (no attempt was accepted within the retry window, and none
        will be made); None without a callback URL."""
        if self.callback_url is None:
            return None
        if self.callback_delivered_at is not None:
            return "delivered"
        if self.callback_next_at is not None:
            return "retrying" if self.callback_attempts else "waiting"
        return "failed" if self.finished_at is not None else "waiting"

    def described(self) -> dict[str, Any]:
        """The summary and, for a job with a callback URL, how its webhook fared: what reading
        or listing a job answers (the webhook's own body is the summary alone)."""
        state = self.callback_state
        if state is None:
            return self.summary()
        return self.summary() | {
            "callback": {
                "state": state,
                "attempts": self.callback_attempts,
                "last_status": self.callback_status,
                "delivered_at": None
                if self.callback_delivered_at is None
                else self.callback_delivered_at.isoformat(),
            }
        }


@dataclass(frozen=True)
class ImageResult:
    index: int
    image: str
    result: dict[str, Any] | None
    error: str | None

    def as_listed(self) -> dict[str, Any]:
        head: dict[str, Any] = {"index": self.index, "image": self.image}
        if self.result is not None:
            return head | self.result
        return head | {"error": self.error}


@dataclass(frozen=True)
class ClaimedImage:
    job_id: str
    index: int
    source: str
    options: dict[str, Any]
    lease: str


def image_label(source: str) -> str:
    """How a result names its image: the URL itself; inline images by their size, as echoing
    megabytes of base64 back in every page of results would help nobody."""
    if source.startswith(("http://", "https://")):
        return source
    return f"inline image ({len(source)} characters)"


def _job(row: AnyRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        key_id=row.key_id,
        status=row.status,
        total=row.total,
        pending=row.pending,
        running=row.running,
        succeeded=row.succeeded,
        failed=row.failed,
        cancelled=row.cancelled,
        cost=row.cost,
        options=json.loads(row.options),
        callback_url=row.callback_url,
        callback_secret=row.callback_secret,
        callback_attempts=row.callback_attempts,
        callback_status=row.callback_status,
        callback_delivered_at=row.callback_delivered_at,
        callback_next_at=row.callback_next_at,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


_SELECT_JOB = select(jobs).where(jobs.c.id == bindparam("b_id"))
_INSERT_USAGE = insert(usage)


class SqlJobStore:
    """Thread-safe; any number of processes may share one database (the accounts one)."""

    def __init__(
        self,
        database_url: str,
        *,
        warning_thresholds: Sequence[float] = (),
        retention_days: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = create_database_engine(database_url)
        self._thresholds = sorted(set(warning_thresholds))
        self.retention = timedelta(days=retention_days)
        self._clock = clock

    def close(self) -> None:
        self._engine.dispose()

    # Submitting, reading, cancelling

    def create(
        self,
        key: KeyRecord,
        sources: Sequence[str],
        *,
        options: dict[str, Any],
        cost: int,
        callback_url: str | None,
    ) -> JobRecord:
        """Hold the whole job's credits and store it, or refuse it with 403 before anything."""
        now = self._clock()
        job_id = uuid.uuid4().hex
        credits = cost * len(sources)
        with write_transaction(self._engine) as connection:
            debited = connection.execute(
                update(api_keys)
                .where(
                    api_keys.c.id == key.id,
                    api_keys.c.balance >= credits,
                    api_keys.c.revoked_at.is_(None),
                    api_keys.c.renews_at > now,
                )
                .values(balance=api_keys.c.balance - credits)
                .returning(api_keys.c.period_start)
            ).first()
            if debited is None:
                row = connection.execute(select(api_keys).where(api_keys.c.id == key.id)).one()
                record = key_record(row)
                raise InsufficientCredits(
                    f"Insufficient credits: this job of {len(sources)} images costs {credits} "
                    f"credits and the key has {record.balance} left.",
                    headers=credit_headers(record),
                )
            connection.execute(
                insert(jobs).values(
                    id=job_id,
                    key_id=key.id,
                    status=QUEUED,
                    total=len(sources),
                    pending=len(sources),
                    running=0,
                    succeeded=0,
                    failed=0,
                    cancelled=0,
                    cost=cost,
                    held=credits,
                    period_start=debited.period_start,
                    options=json.dumps(options),
                    callback_url=callback_url,
                    callback_secret=secrets.token_hex(32) if callback_url else None,
                    callback_attempts=0,
                    created_at=now,
                )
            )
            connection.execute(
                insert(job_images),
                [
                    {"job_id": job_id, "idx": index, "source": source, "state": PENDING}
                    for index, source in enumerate(sources)
                ],
            )
            return _job(connection.execute(_SELECT_JOB, {"b_id": job_id}).one())

    def get(self, job_id: str, key_id: str | None = None) -> JobRecord:
        """The job; another key's job is as unknown as one that does not exist (404)."""
        with read_transaction(self._engine) as connection:
            row = connection.execute(_SELECT_JOB, {"b_id": job_id}).first()
        if row is None or (key_id is not None and row.key_id != key_id):
            raise NotFound(
                f"No such job: {job_id}. Finished jobs and their results are deleted "
                f"{_days(self.retention)} after they end."
            )
        return _job(row)

    def list_jobs(self, key_id: str | None = None, limit: int = 100) -> list[JobRecord]:
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)
        if key_id is not None:
            query = query.where(jobs.c.key_id == key_id)
        with read_transaction(self._engine) as connection:
            return [_job(row) for row in connection.execute(query)]

    def results(self, job_id: str, offset: int, limit: int) -> list[ImageResult]:
        """Finished images (captioned or failed) in index order, one page of them."""
        with read_transaction(self._engine) as connection:
            rows = connection.execute(
                select(
                    job_images.c.idx, job_images.c.source, job_images.c.result, job_images.c.error
                )
                .where(
                    job_images.c.job_id == job_id,
                    job_images.c.state.in_((SUCCEEDED, FAILED)),
                )
                .order_by(job_images.c.idx)
                .offset(offset)
                .limit(limit)
            ).all()
        return [
            ImageResult(
                index=row.idx,
                image=image_label(row.source),
                result=None if row.result is None else json.loads(row.result),
                error=row.error,
            )
            for row in rows
        ]

    def cancel(self, job_id: str, key_id: str | None = None) -> JobRecord:
        """Cancel the images not yet started and refund them; those in a worker's hands finish."""
        self.get(job_id, key_id)  # 404 for anyone else's
        now = self._clock()
        with write_transaction(self._engine) as connection:
            job = connection.execute(_SELECT_JOB, {"b_id": job_id}).one()
            if job.status not in ACTIVE:
                return _job(job)
            dropped = connection.execute(
                update(job_images)
                .where(job_images.c.job_id == job_id, job_images.c.state == PENDING)
                .values(state=CANCELLED, finished_at=now)
            ).rowcount
            refund = dropped * job.cost
            self._refund(connection, job, refund)
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status=CANCELLED,
                    pending=0,
                    cancelled=jobs.c.cancelled + dropped,
                    held=jobs.c.held - refund,
                )
            )
            self._end_if_idle(connection, job_id, now)
            return _job(connection.execute(_SELECT_JOB, {"b_id": job_id}).one())

    # Workers

    def claim(self, limit: int, lease_seconds: float) -> list[ClaimedImage]:
        """Up to ``limit`` images of the fairest job, leased to the caller; [] when none wait."""
        now = self._clock()
        lease = uuid.uuid4().hex
        with write_transaction(self._engine) as connection:
            active = connection.execute(
                select(
                    jobs.c.id,
                    jobs.c.key_id,
                    jobs.c.pending,
                    jobs.c.running,
                    jobs.c.last_claimed_at,
                    jobs.c.created_at,
                    jobs.c.options,
                ).where(jobs.c.status.in_(ACTIVE))
            ).all()
            job = _fairest(active)
            if job is None:
                return []
            indexes = connection.scalars(
                select(job_images.c.idx)
                .where(job_images.c.job_id == job.id, job_images.c.state == PENDING)
                .order_by(job_images.c.idx)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not indexes:
                return []
            rows = connection.execute(
                update(job_images)
                .where(job_images.c.job_id == job.id, job_images.c.idx.in_(indexes))
                .values(
                    state=CLAIMED, lease=lease, lease_until=now + timedelta(seconds=lease_seconds)
                )
                .returning(job_images.c.idx, job_images.c.source)
            ).all()
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(
                    status=RUNNING,
                    pending=jobs.c.pending - len(rows),
                    running=jobs.c.running + len(rows),
                    last_claimed_at=now,
                )
            )
        options = json.loads(job.options)
        return [
            ClaimedImage(job.id, row.idx, row.source, options, lease)
            for row in sorted(rows, key=lambda row: row.idx)
        ]

    def finish(
        self,
        image: ClaimedImage,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        status: int = 200,
        latency_ms: float = 0.0,
    ) -> bool:
        """Record an image's caption (charged) or failure (refunded) if the claim still holds.

        False when it does not: the lease ran out and the image went to another worker, whose
        answer is the one that counts, and nothing is charged here.
        """
        now = self._clock()
        succeeded = result is not None
        warnings: list[tuple[AnyRow, list[float]]] = []
        with write_transaction(self._engine) as connection:
            changed = connection.execute(
                update(job_images)
                .where(
                    job_images.c.job_id == image.job_id,
                    job_images.c.idx == image.index,
                    job_images.c.state == CLAIMED,
                    job_images.c.lease == image.lease,
                )
                .values(
                    state=SUCCEEDED if succeeded else FAILED,
                    lease=None,
                    lease_until=None,
                    result=json.dumps(result) if succeeded else None,
                    error=error,
                    finished_at=now,
                )
            ).rowcount
            if not changed:
                return False
            job = connection.execute(_SELECT_JOB, {"b_id": image.job_id}).one()
            if succeeded:
                key = connection.execute(
                    update(api_keys)
                    .where(api_keys.c.id == job.key_id, api_keys.c.period_start == job.period_start)
                    .values(used=api_keys.c.used + job.cost)
                    .returning(*api_keys.c)
                ).first()
                if key is not None:  # None: the key renewed since, as for a call's charge
                    crossed = record_crossed(connection, key, job.cost, now, self._thresholds)
                    warnings.append((key, crossed))
            else:
                self._refund(connection, job, job.cost)
            connection.execute(
                _INSERT_USAGE,
                {
                    "key_id": job.key_id,
                    "at": now,
                    "status": status,
                    "latency_ms": latency_ms,
                    "credits": job.cost if succeeded else 0,
                    "request_id": f"job-{image.job_id}-{image.index}",
                },
            )
            connection.execute(
                update(jobs)
                .where(jobs.c.id == image.job_id)
                .values(
                    running=jobs.c.running - 1,
                    succeeded=jobs.c.succeeded + int(succeeded),
                    failed=jobs.c.failed + int(not succeeded),
                    held=jobs.c.held - job.cost,
                )
            )
            self._end_if_idle(connection, image.job_id, now)
        log_crossed(warnings)
        return True

    def give_back(self, images: Sequence[ClaimedImage]) -> None:
        """Return claimed images to the queue untouched (the model is not ready, or stopping)."""
        with write_transaction(self._engine) as connection:
            for image in images:
                self._unclaim(
                    connection,
                    image.job_id,
                    and_(job_images.c.idx == image.index, job_images.c.lease == image.lease),
                )

    def expire_leases(self) -> int:
        """Put images whose worker's lease ran out (a replica died) back in the queue."""
        now = self._clock()
        with write_transaction(self._engine) as connection:
            job_ids = connection.scalars(
                select(job_images.c.job_id)
                .where(job_images.c.state == CLAIMED, job_images.c.lease_until < now)
                .distinct()
            ).all()
            return sum(
                self._unclaim(connection, job_id, job_images.c.lease_until < now)
                for job_id in sorted(job_ids)
            )

    def waiting(self) -> tuple[int, int]:
        """Images of unfinished jobs waiting for a worker, and in workers' hands: the backlog."""
        with read_transaction(self._engine) as connection:
            pending, running = connection.execute(
                select(
                    func.coalesce(func.sum(jobs.c.pending), 0),
                    func.coalesce(func.sum(jobs.c.running), 0),
                ).where(jobs.c.status.in_(ACTIVE) | (jobs.c.running > 0))
            ).one()
        return int(pending), int(running)

    def delete_expired(self, limit: int = 10) -> int:
        """Delete up to ``limit`` jobs that ended more than the retention ago, with their
        images and results; a job whose webhook is still being retried stays until it is
        delivered or given up. Returns how many were deleted."""
        cutoff = self._clock() - self.retention
        with write_transaction(self._engine) as connection:
            expired = connection.scalars(
                select(jobs.c.id)
                .where(
                    jobs.c.status.not_in(ACTIVE),
                    jobs.c.finished_at < cutoff,
                    jobs.c.callback_next_at.is_(None),
                )
                .limit(limit)
                .with_for_update(skip_locked=True)  # another replica's sweep takes the others
            ).all()
            if expired:
                connection.execute(delete(job_images).where(job_images.c.job_id.in_(expired)))
                connection.execute(delete(jobs).where(jobs.c.id.in_(expired)))
        return len(expired)

    # Webhooks

    def due_callbacks(self, hold_seconds: float, limit: int = 16) -> list[JobRecord]:
        """Jobs whose webhook is due, each taken by this caller alone for ``hold_seconds``."""
        now = self._clock()
        taken: list[JobRecord] = []
        with write_transaction(self._engine) as connection:
            due = connection.execute(
                select(jobs.c.id, jobs.c.callback_next_at)
                .where(jobs.c.callback_next_at <= now)
                .order_by(jobs.c.callback_next_at)
                .limit(limit)
            ).all()
            for job_id, next_at in due:
                row = connection.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.callback_next_at == next_at)
                    .values(callback_next_at=now + timedelta(seconds=hold_seconds))
                    .returning(*jobs.c)
                ).first()
                if row is not None:
                    taken.append(_job(row))
        return taken

    def record_callback(
        self, job_id: str, *, status: int | None, delivered: bool, retry_at: datetime | None
    ) -> None:
        """One attempt's outcome; ``retry_at`` None with ``delivered`` False gives up."""
        values: dict[str, Any] = {
            "callback_attempts": jobs.c.callback_attempts + 1,
            "callback_status": status,
            "callback_next_at": None if delivered else retry_at,
        }
        if delivered:
            values["callback_delivered_at"] = self._clock()
        with write_transaction(self._engine) as connection:
            connection.execute(update(jobs).where(jobs.c.id == job_id).values(values))

    # Helpers, inside the caller's transaction

    def _refund(self, connection: Connection, job: AnyRow, credits: int) -> None:
        if credits:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.id == job.key_id, api_keys.c.period_start == job.period_start)
                .values(balance=api_keys.c.balance + credits)
            )

    def _unclaim(self, connection: Connection, job_id: str, which: Any) -> int:
        back = connection.execute(
            update(job_images)
            .where(job_images.c.job_id == job_id, job_images.c.state == CLAIMED, which)
            .values(state=PENDING, lease=None, lease_until=None)
        ).rowcount
        if back:
            job = connection.execute(_SELECT_JOB, {"b_id": job_id}).one()
            if job.status == CANCELLED:  # cancelled meanwhile: these are refunded now
                connection.execute(
                    update(job_images)
                    .where(job_images.c.job_id == job_id, job_images.c.state == PENDING)
                    .values(state=CANCELLED, finished_at=self._clock())
                )
                self._refund(connection, job, back * job.cost)
                values: dict[str, Any] = {
                    "cancelled": jobs.c.cancelled + back,
                    "held": jobs.c.held - back * job.cost,
                }
            else:
                values = {"pending": jobs.c.pending + back}
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(running=jobs.c.running - back, **values)
            )
            self._end_if_idle(connection, job_id, self._clock())
        return int(back)

    def _end_if_idle(self, connection: Connection, job_id: str, now: datetime) -> None:
        """A job with nothing pending or running has ended: done, or cancelled if it was; its
        webhook, if any, becomes due now."""
        connection.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.pending == 0,
                jobs.c.running == 0,
                jobs.c.finished_at.is_(None),
            )
            .values(
                status=case((jobs.c.status == CANCELLED, CANCELLED), else_=DONE),
                finished_at=now,
                callback_next_at=case(
                    (
                        jobs.c.callback_url.is_not(None),
                        literal(now, jobs.c.callback_next_at.type),
                    ),
                    else_=None,
                ),
            )
        )


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return "1 day" if days == 1 else f"{days:g} days"


def _fairest(active: Sequence[AnyRow]) -> AnyRow | None:
    """The job whose key has the fewest images in workers' hands, then the one served least
    recently (never served first), then the oldest."""
    waiting = [job for job in active if job.pending > 0]
    if not waiting:
        return None
    running_by_key: dict[str, int] = {}
    for job in active:
        running_by_key[job.key_id] = running_by_key.get(job.key_id, 0) + job.running
    epoch = datetime.min.replace(tzinfo=UTC)
    return min(
        waiting,
        key=lambda job: (
            running_by_key[job.key_id],
            job.last_claimed_at or epoch,
            job.created_at,
        ),
    )

"""Jobs in one server process: the store, the queue and its workers, the runner and the sweeper.

Built and started in the app's lifespan next to the engine; the API reaches it as
``app.state.jobs``. The sweeper runs in every process: it puts images whose worker died back in
the queue, enqueues work when images wait and the queue has run dry (huey hands a task out
once, so one taken by a process that was then killed is gone), sends due webhooks, and keeps the
backlog gauges that the autoscaler reads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any

from imagecaption.accounts.store import KeyRecord
from imagecaption.engine import CaptionEngine
from imagecaption.images import ImageDecoder, ImageFetcher
from imagecaption.jobs.queue import JobQueue, build_queue
from imagecaption.jobs.runner import JobRunner
from imagecaption.jobs.store import JobRecord, SqlJobStore
from imagecaption.jobs.webhook import deliver
from imagecaption.observability.metrics import Metrics
from imagecaption.settings import Settings

log = logging.getLogger(__name__)

# Tasks enqueued by one sweep at most: enough to keep every worker of many replicas busy.
_REFILL_TASKS = 64
# The longest wait between two looks for jobs past their retention.
_PURGE_SECONDS = 60.0
_PURGE_BATCH = 10


class JobService:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        engine: CaptionEngine,
        fetcher: ImageFetcher,
        decoder: ImageDecoder,
    ) -> None:
        self.settings = settings
        self.store = job_store(settings)
        self._metrics = metrics
        self._fetcher = fetcher
        self.runner = JobRunner(self.store, engine, fetcher, decoder, settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.queue = JobQueue(
            build_queue(settings.resolved_database_url), self._work, settings.job_workers
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._next_purge = 0.0
        self._starting: asyncio.Task[None] | None = None

    async def start(self, model_loading: Awaitable[None]) -> None:
        """Start the sweeper now and this process's queue workers once the model is loaded:
        images claimed before would only be given back."""
        self._loop = asyncio.get_running_loop()
        self._sweeper = asyncio.create_task(self._sweep_forever())
        self._starting = asyncio.create_task(self._start_workers(model_loading))

    async def _start_workers(self, model_loading: Awaitable[None]) -> None:
        await model_loading
        await asyncio.to_thread(self.queue.start)

    async def stop(self) -> None:
        self.runner.stopping = True
        for task in (self._sweeper, self._starting):
            if task is not None:
                task.cancel()
        await asyncio.to_thread(self.queue.stop)
        self.store.close()

    def submit(
        self,
        key: KeyRecord,
        sources: Sequence[str],
        *,
        options: dict[str, Any],
        cost: int,
        callback_url: str | None,
    ) -> JobRecord:
        """Store the job, holding its credits, and enqueue its work; blocking."""
        job = self.store.create(key, sources, options=options, cost=cost, callback_url=callback_url)
        self.queue.enqueue(math.ceil(job.total / self.settings.job_chunk_size))
        return job

    def _work(self) -> None:
        """One queue task, in a queue worker thread: a claim, run on the server's loop."""
        if self._loop is None or self.runner.stopping:
            return
        asyncio.run_coroutine_threadsafe(self.runner.run_claim(), self._loop).result()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the job sweeper failed; it tries again")
            await asyncio.sleep(self.settings.job_sweep_seconds)

    async def sweep(self) -> None:
        expired = await asyncio.to_thread(self.store.expire_leases)
        if expired:
            log.warning(
                "job images taken back from a worker that stopped", extra={"count": expired}
            )
        pending, running = await asyncio.to_thread(self.store.waiting)
        self._metrics.job_images_waiting.set(pending)
        self._metrics.job_images_running.set(running)
        if pending and self.settings.job_workers and not await asyncio.to_thread(self.queue.queued):
            tasks = min(math.ceil(pending / self.settings.job_chunk_size), _REFILL_TASKS)
            await asyncio.to_thread(self.queue.enqueue, tasks)
        if time.monotonic() >= self._next_purge:
            await self._delete_expired()
        hold = self.settings.job_callback_timeout_seconds * 3
        for job in await asyncio.to_thread(self.store.due_callbacks, hold):
            await deliver(self.store, self._fetcher, self.settings, job, datetime.now(UTC))

    async def _delete_expired(self) -> None:
        """Delete the jobs past their retention, a batch at a time, at most every minute (or a
        tenth of the retention, when that is shorter): each process does it, and the first to
        come finds the work; the others find nothing."""
        retention = self.store.retention.total_seconds()
        self._next_purge = time.monotonic() + min(_PURGE_SECONDS, retention / 10)
        deleted = 0
        while True:  # a few jobs per transaction, as each may hold 10,000 image rows
            batch = await asyncio.to_thread(self.store.delete_expired, _PURGE_BATCH)
            deleted += batch
            if batch < _PURGE_BATCH:
                break
        if deleted:
            log.info("finished jobs past their retention deleted", extra={"count": deleted})


def job_store(settings: Settings) -> SqlJobStore:
    """The job store with the settings that shape it, for the server and the command line."""
    return SqlJobStore(
        settings.resolved_database_url,
        warning_thresholds=settings.usage_warning_thresholds,
        retention_days=settings.job_retention_days,
    )

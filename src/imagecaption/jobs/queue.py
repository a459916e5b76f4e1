"""The work queue that spreads job images over every replica: huey, on the accounts database.

huey keeps its queue in SQLite (the embedded default: a file beside the accounts database, shared
by the processes of one machine) or in PostgreSQL (the accounts database itself, tables prefixed
``imagecaption_queue``, woken by LISTEN/NOTIFY), so replicas need nothing beside the database
they already share. A task says only "claim the next images": which images is decided by the
job store's fair claim, so queued tasks never fix an order between keys, and a lost task (huey
hands each out once) costs nothing, as the sweeper enqueues more while images wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from huey import Huey, PostgresHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

QUEUE_NAME = "imagecaption-jobs"
TASK_NAME = "caption_job_images"


def build_queue(database_url: str) -> Huey:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresHuey(
            QUEUE_NAME, dsn=dsn, table_prefix="imagecaption_queue", results=False, read_timeout=1
        )
    database = Path(url.database or "imagecaption.db")
    filename = database.with_name(database.stem + "-queue.db")
    return SqliteHuey(QUEUE_NAME, filename=str(filename), results=False)


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """A consumer inside the server: the server owns the process's signals, not huey."""

    def _set_signal_handlers(self) -> None:
        pass


class JobQueue:
    """The queue, its task and this process's workers (none when ``workers`` is 0)."""

    def __init__(self, huey: Huey, work: Callable[[], None], workers: int) -> None:
        self.huey = huey
        self._task = huey.task(name=TASK_NAME)(work)
        self._consumer: Consumer | None = None
        self._workers = workers

    def start(self) -> None:
        if self._workers:
            self._consumer = _QuietConsumer(
                self.huey,
                workers=self._workers,
                periodic=False,
                initial_delay=0.05,
                backoff=1.5,
                max_delay=1.0,
                check_worker_health=False,
                shutdown_timeout=15,
            )
            self._consumer.start()

    def stop(self) -> None:
        """Let the workers finish the image in hand (the runner gives back the others)."""
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
        self.huey.storage.close()

    def enqueue(self, tasks: int) -> None:
        for _ in range(tasks):
            self._task()

    def queued(self) -> int:
        return int(self.huey.pending_count())

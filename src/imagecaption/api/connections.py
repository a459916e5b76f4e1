"""How many connections one server process holds, how long and how large their requests' heads.

A connection costs a file descriptor from the moment it is accepted, whether or not it ever sends
a byte. When a process runs out of descriptors the event loop can no longer accept, and the
database, model files and logs cannot be opened either, so every real call fails at once. The
connection limit is therefore set below the process's descriptor limit (``RLIMIT_NOFILE``), with
``reserved_descriptors`` kept for everything else; the soft descriptor limit is raised towards
the hard one first when that leaves room for ``max_connections``.

The limits are per process and read once, when the serving process starts (``configure``): the
protocol objects that uvicorn creates for each connection find them here, whichever process
(``serve`` alone, or each of ``--workers N``) they run in.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from collections.abc import Sized
from dataclasses import dataclass

from imagecaption.settings import Settings

log = logging.getLogger("imagecaption.connections")

REPORT_EVERY_SECONDS = 10.0
"""Refusals are logged at once, then summed up at most this often while they go on: a flood of
refusals must not become a flood of log lines."""

FEWEST_CONNECTIONS = 8
"""Below this many connections the server could not answer its own health checks under load; a
descriptor limit that leaves fewer is a configuration error, said at start."""


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    max_header_bytes: int
    max_header_count: int
    max_url_bytes: int
    header_read_timeout_seconds: float
    retry_after_seconds: int


class DescriptorLimitTooLow(RuntimeError):
    """The process may open too few files to hold even a handful of connections."""


def _defaults() -> ConnectionLimits:
    fields = Settings.model_fields
    return ConnectionLimits(
        max_connections=fields["max_connections"].default,
        max_header_bytes=fields["max_header_bytes"].default,
        max_header_count=fields["max_header_count"].default,
        max_url_bytes=fields["max_url_bytes"].default,
        header_read_timeout_seconds=fields["header_read_timeout_seconds"].default,
        retry_after_seconds=fields["retry_after_seconds"].default,
    )


LIMITS: ConnectionLimits = _defaults()
"""The limits of this process; ``configure`` sets them from the settings it serves with."""


def connection_budget(wanted: int, reserved: int) -> int:
    """The connections this process can hold: ``wanted``, or fewer if its descriptors run short.

    Raises the soft descriptor limit (up to the hard one, which needs no privilege) when the
    current one leaves less than ``wanted + reserved``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + reserved
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY:
        return wanted
    budget = min(wanted, soft - reserved)
    if budget < FEWEST_CONNECTIONS:
        raise DescriptorLimitTooLow(
            f"The process may open {soft} files (RLIMIT_NOFILE, hard limit {hard}); with "
            f"reserved_descriptors = {reserved} that leaves room for {max(budget, 0)} "
            f"connections. Raise the limit (ulimit -n) or lower reserved_descriptors."
        )
    if budget < wanted:
        log.warning(
            "fewer connections than configured: the process may open %d files and keeps %d "
            "for the database, models and logs, so it holds at most %d connections "
            "(max_connections = %d)",
            soft,
            reserved,
            budget,
            wanted,
        )
    return budget


def configure(settings: Settings) -> ConnectionLimits:
    """Set this process's limits from the settings; call once before serving."""
    global LIMITS
    LIMITS = ConnectionLimits(
        max_connections=connection_budget(settings.max_connections, settings.reserved_descriptors),
        max_header_bytes=settings.max_header_bytes,
        max_header_count=settings.max_header_count,
        max_url_bytes=settings.max_url_bytes,
        header_read_timeout_seconds=settings.header_read_timeout_seconds,
        retry_after_seconds=settings.retry_after_seconds,
    )
    return LIMITS


class RefusalReport:
    """Logs what the limits refused: the first of each kind at once, then one sum per kind and
    reporting period while they go on.

    A client that is refused or cut off never reaches the app, so it appears in no access log;
    this is where an operator sees it.
    """

    def __init__(self, every_seconds: float = REPORT_EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self.pending: Counter[str] = Counter()
        self.last_report: dict[str, float] = {}
        self.scheduled: set[str] = set()

    def note(self, what: str, connections: Sized, loop: asyncio.AbstractEventLoop) -> None:
        self.pending[what] += 1
        wait = self.last_report.get(what, float("-inf")) + self.every_seconds - time.monotonic()
        if wait <= 0:
            self.flush(what, connections)
        elif what not in self.scheduled:
            self.scheduled.add(what)
            loop.call_later(wait, self.flush, what, connections)

    def flush(self, what: str, connections: Sized) -> None:
        self.scheduled.discard(what)
        count = self.pending.pop(what, 0)
        if not count:
            return
        self.last_report[what] = time.monotonic()
        log.warning(
            "connection limits: %d %s (%d connections open, limit %d)",
            count,
            what,
            len(connections),
            LIMITS.max_connections,
        )


REFUSALS = RefusalReport()

"""The credit writes of a server process, run by one thread that commits them in groups.

Every paid call writes twice, its reservation and then its charge, and each write run in a
transaction of its own pays a fixed cost (a trip to a worker thread and back, a pooled
connection, BEGIN and COMMIT, SQLite's write lock) that was larger than the statements
themselves. One thread takes every write waiting when it is free and runs them in one
transaction, so that under load the fixed cost is paid once per group. Writes cross between
the event loop and the thread in batches both ways: those submitted in one turn of the event
loop are handed over together (one wake-up of the thread, not one per write), and a group's
results come back with one wake-up of the loop. On SQLite the thread keeps one connection for
its groups (``HeldConnection``) rather than taking one from the pool each time.

The guarantees stay what they were:

- a write's result is known only once its group has committed: a reservation is never believed
  before it is durable, and a charge is still submitted only once its answer was sent;
- a crash loses at most the group in progress: its reservations were never reported (their
  calls die with their connections) and its charges leave their reservations behind, refunded
  once they expire, as a crash between answer and charge always did;
- a write refused (no credits, a revoked key) fails alone (``SqlAccountStore.write_together``).

A group that fails as a whole: when the database is unavailable (locked by another process past
the busy timeout, unreachable, full), every write in it fails with that error, and so does
every write that queued behind it meanwhile, which would only wait out the same timeout again;
a deadlock or any other error has each write retried alone, so that one write's fault is only
its own.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from imagecaption.accounts.database import DatabaseUnavailable, HeldConnection
from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.accounts.store import KeyRecord, Reservation
from imagecaption.accounts.writes import Charge, RecordCall, Release, Reserve, Write

log = logging.getLogger("imagecaption.accounts")

# PostgreSQL's deadlock and serialization failures: the transaction may simply be run again.
_RETRYABLE_STATES = {"40P01", "40001"}


@dataclass(frozen=True)
class _Pending:
    write: Write
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class Ledger:
    """Asynchronous credit writes for the API: ``reserve``, ``charge``, ``release`` and
    ``record_call`` submit a write at once, whether or not their caller waits for it."""

    def __init__(self, store: SqlAccountStore, *, max_group: int = 256) -> None:
        self._store = store
        self._max_group = max_group
        self._queue: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._submitted: list[_Pending] = []  # this turn of the event loop's, not handed over
        self._thread = threading.Thread(target=self._write_forever, name="ledger", daemon=True)
        self._thread.start()

    async def reserve(self, key_id: str, credits: int) -> Reservation:
        if credits < 0:
            raise ValueError("cannot reserve a negative number of credits")
        reservation: Reservation = await self.submit(Reserve(key_id, credits))
        return reservation

    def charge(
        self, reservation: Reservation, *, status: int, latency_ms: float, request_id: str | None
    ) -> asyncio.Future[KeyRecord]:
        return self.submit(
            Charge(reservation, status, latency_ms, request_id, at=self._store.now())
        )

    async def release(self, reservation: Reservation) -> None:
        await self.submit(Release(reservation))

    async def record_call(
        self, key_id: str, *, status: int, latency_ms: float, request_id: str | None
    ) -> None:
        await self.submit(RecordCall(key_id, status, latency_ms, request_id, at=self._store.now()))

    def submit(self, write: Write) -> asyncio.Future[Any]:
        """Queue a write; it runs even if nobody awaits the future (or the awaiting is
        cancelled)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._submitted:
            loop.call_soon(self._hand_over)
        self._submitted.append(_Pending(write, future, loop))
        return future

    def _hand_over(self) -> None:
        submitted, self._submitted = self._submitted, []
        if submitted:
            self._queue.put(submitted)

    async def aclose(self) -> None:
        """Run every write submitted so far, then stop."""
        self._hand_over()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Run every write handed over so far, then stop; blocking (``aclose`` also hands over
        what the event loop's current turn submitted)."""
        self._queue.put(None)
        self._thread.join()

    def _write_forever(self) -> None:
        held = self._store.held_connection()
        try:
            self._write_groups(held)
        finally:
            held.close()

    def _write_groups(self, held: HeldConnection) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = list(first)
            stop = False
            while len(group) < self._max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.extend(more)
            self._settle(self._run(group, held))
            if stop:
                return

    def _run(self, group: list[_Pending], held: HeldConnection) -> list[tuple[_Pending, Any]]:
        try:
            outcomes = self._store.write_together([pending.write for pending in group], held)
        except DatabaseUnavailable as unavailable:
            if _retryable(unavailable) and len(group) > 1:
                return self._run_alone(group, held)
            return [(pending, unavailable) for pending in group + self._drain()]
        except Exception as failure:
            if len(group) > 1:
                return self._run_alone(group, held)
            return [(group[0], failure)]
        return list(zip(group, outcomes, strict=True))

    def _run_alone(self, group: list[_Pending], held: HeldConnection) -> list[tuple[_Pending, Any]]:
        settled: list[tuple[_Pending, Any]] = []
        for pending in group:
            settled.extend(self._run([pending], held))
        return settled

    def _drain(self) -> list[_Pending]:
        """The writes queued behind a group that found the database unavailable."""
        drained: list[_Pending] = []
        while True:
            try:
                handed_over = self._queue.get_nowait()
            except queue.Empty:
                return drained
            if handed_over is None:  # closing: keep the marker for the loop to find
                self._queue.put(None)
                return drained
            drained.extend(handed_over)

    @staticmethod
    def _settle(settled: list[tuple[_Pending, Any]]) -> None:
        """Hand the outcomes to their event loops, one wake-up per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]]
        by_loop = defaultdict(list)
        for pending, outcome in settled:
            by_loop[pending.loop].append((pending.future, outcome))
        for loop, outcomes in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, outcomes)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                log.debug("ledger outcomes for a closed event loop dropped")


def _resolve(outcomes: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in outcomes:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _retryable(unavailable: DatabaseUnavailable) -> bool:
    state = getattr(getattr(unavailable.__cause__, "orig", None), "sqlstate", None)
    return state in _RETRYABLE_STATES

"""The worker thread that drains the queue in batches.

Requests that arrive while the model is busy are decoded together on the next pass, which is
where batching pays: the model's fixed cost per call is shared. Only requests with identical
options share a batch, so batching can never change a caption.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imagecaption.models.base import Caption, Captioner, CaptionOptions

log = logging.getLogger(__name__)


@dataclass
class WorkItem:
    inputs: Any
    """What the captioner's ``preprocess`` made of the image."""
    options: CaptionOptions
    future: asyncio.Future[Caption]
    loop: asyncio.AbstractEventLoop
    enqueued_at: float = field(default_factory=time.perf_counter)


GATHER_SLICE_S = 0.002
GATHER_SHARE = 0.1

_STOP = object()
WAKE = object()
"""Put in the work queue for each item put in the background queue, so that the worker, which
blocks on the work queue alone, knows one is there."""


class CallActivity:
    """Calls in progress (from the route's start to its answer: reading, decoding, the cache,
    the model), and when one last came or went; written on the event loop, read there by the
    job lane before it prepares an image and by the worker before it captions one, so that job
    work keeps out of the calls' way."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.arriving = 0
        """Calls begun whose image is not yet in the model's queue: being uploaded, decoded,
        looked up in the cache or pre-processed. The worker may wait a little for them."""
        self.last = 0.0
        self.changed = asyncio.Event()
        """Set when a call comes or goes, for job images waiting on the loop for their turn."""

    def begin(self) -> None:
        self.in_flight += 1
        self.last = time.perf_counter()
        self.changed.set()

    def end(self) -> None:
        self.in_flight -= 1
        self.last = time.perf_counter()
        self.changed.set()

    def background_due(self, last_background: float, quiet_s: float, interval_s: float) -> float:
        """Seconds before job work may start: once no call has been in progress for
        ``quiet_s``, or ``interval_s`` after the last job work, so that steady calls keep their
        latency and still leave jobs a bounded share."""
        now = time.perf_counter()
        starved = last_background + interval_s - now
        if self.in_flight:
            return max(starved, 0.0)
        quiet = self.last + quiet_s - now
        return max(min(quiet, starved), 0.0)


class BatchWorker:
    def __init__(
        self,
        captioner: Captioner,
        work: queue.Queue[WorkItem | object],
        *,
        max_batch_size: int,
        max_wait_s: float,
        on_batch: Callable[[int, float], None],
        max_gather_s: float = 0.0,
        background: queue.Queue[WorkItem] | None = None,
        background_quiet_s: float = 0.0,
        background_interval_s: float = 0.0,
        calls: CallActivity | None = None,
    ) -> None:
        self._captioner = captioner
        self._work = work
        self._background = background
        self._background_waiting = 0
        self._quiet_s = background_quiet_s
        self._interval_s = background_interval_s
        self._calls = calls or CallActivity()
        self._last_background = 0.0
        self._poll_s = max(background_quiet_s, 0.01)
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._max_gather_s = max_gather_s
        self._last_batch_s = 0.0
        self._last_sizes = (0, 0)
        self._on_batch = on_batch
        self._thread = threading.Thread(target=self._run, name="caption-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is queued, then end the thread."""
        self._work.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            if self._background_waiting and self._work.empty():
                wait = self._background_due()
                if wait <= 0:
                    self._caption_background()
                    continue
                try:
                    # A call that ends puts nothing in this queue, so while one is in progress
                    # look again every quiet period rather than sleep out the jobs' share.
                    first = self._work.get(timeout=min(wait, self._poll_s))
                except queue.Empty:
                    continue
            else:
                first = self._work.get()
            if first is _STOP:
                return
            if first is WAKE:
                self._background_waiting += 1
                continue
            assert isinstance(first, WorkItem)
            batch = [first]
            started = time.perf_counter()
            deadline = started + self._max_wait_s
            gather_until = started + self._gather_s()
            expected = self._expected()
            while len(batch) < self._max_batch_size:
                now = time.perf_counter()
                remaining = deadline - now
                if remaining <= 0 and now < gather_until and self._coming(batch, expected):
                    # Calls on their way, or clients just answered that are likely to come
                    # back: wait for them in short slices while that still holds.
                    remaining = min(gather_until - now, GATHER_SLICE_S)
                try:
                    if remaining > 0:
                        item = self._work.get(timeout=remaining)
                    else:
                        item = self._work.get_nowait()
                except queue.Empty:
                    if time.perf_counter() < gather_until and self._coming(batch, expected):
                        continue
                    break
                if item is _STOP:
                    stopping = True
                    break
                if item is WAKE:
                    self._background_waiting += 1
                    continue
                assert isinstance(item, WorkItem)
                batch.append(item)
            for group in _group_by_options(batch):
                self._caption(group)

    def _gather_s(self) -> float:
        """How long a batch may wait beyond ``max_wait_s`` for calls still arriving: at most
        ``max_gather_s`` and a tenth of the last batch's model time, so that a model whose batch
        is cheap never idles longer than it would gain.

        Without it, eight clients that each send their next image as soon as they have their
        answer split into two groups that take turns at the model (the first image of one turn
        starts the batch before the others are decoded), and the groups never merge: GIT-base
        on 2 cores averaged 3.6 images a batch at concurrency 8 where 8 were waiting.
        """
        return min(self._max_gather_s, GATHER_SHARE * self._last_batch_s)

    def _coming(self, batch: list[WorkItem], expected: int) -> bool:
        return self._calls.arriving > 0 or len(batch) < expected

    def _expected(self) -> int:
        """How many images the batch being formed may wait for: as many as the last two
        batches had together, once the last one had more than one (clients sending again as
        soon as they are answered come back in these numbers); else none, so that a lone
        client never waits."""
        last, before = self._last_sizes
        return min(self._max_batch_size, last + before) if last > 1 else 0

    def _background_due(self) -> float:
        """Seconds before a background image may go to the model (see ``CallActivity``)."""
        return self._calls.background_due(self._last_background, self._quiet_s, self._interval_s)

    def _caption_background(self) -> None:
        """One background item alone, taken only when no call waits: a call that arrives
        meanwhile waits for at most one background image, never a batch of them."""
        assert self._background is not None
        self._background_waiting -= 1
        self._caption([self._background.get_nowait()])
        self._last_background = time.perf_counter()

    def _caption(self, group: list[WorkItem]) -> None:
        started = time.perf_counter()
        try:
            captions = self._captioner.caption_prepared(
                [item.inputs for item in group], group[0].options
            )
        except Exception as error:  # a model failure must fail these requests, not the worker
            log.exception("captioning a batch of %d failed", len(group))
            for item in group:
                _resolve(item, error=error)
            return
        self._last_batch_s = time.perf_counter() - started
        self._last_sizes = (len(group), self._last_sizes[0])
        self._on_batch(len(group), self._last_batch_s)
        for item, caption in zip(group, captions, strict=True):
            _resolve(item, result=caption)


def _group_by_options(batch: list[WorkItem]) -> list[list[WorkItem]]:
    groups: dict[CaptionOptions, list[WorkItem]] = {}
    for item in batch:
        groups.setdefault(item.options, []).append(item)
    return list(groups.values())


def _resolve(
    item: WorkItem, *, result: Caption | None = None, error: BaseException | None = None
) -> None:
    def settle() -> None:
        if item.future.done():  # the client went away and the request was cancelled
            return
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(result)  # type: ignore[arg-type]

    # RuntimeError: the loop closed during shutdown, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        item.loop.call_soon_threadsafe(settle)

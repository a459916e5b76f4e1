"""The engine: the only way the API reaches a model.

Model calls run on a dedicated worker thread, so the event loop never blocks; a bounded queue in
front of it refuses work with 503 instead of piling up requests that would time out anyway.

A call is admitted to the queue before it pays: the caller's ``pay`` runs only once the call has
its place, so a call refused with 503 never holds credits that another call then lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
import queue
import time
from collections.abc import Awaitable, Callable, Iterator

from PIL import Image

from imagecaption.engine.batcher import WAKE, BatchWorker, CallActivity, WorkItem
from imagecaption.engine.cache import CaptionCache
from imagecaption.engine.shared_cache import NoSharedCache, SharedCache
from imagecaption.errors import Overloaded
from imagecaption.models.base import Caption, Captioner, CaptionOptions, ModelInfo
from imagecaption.observability.metrics import Metrics

log = logging.getLogger(__name__)

_REMEMBERED_OPTIONS = 1024
"""Distinct accepted options remembered (languages, detail levels, flags: far fewer in use)."""


async def _free() -> None:
    """What a call costs when nobody charges for it (the local caption command, tests)."""


_ARRIVING: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "arriving", default=None
)
"""For the call in progress in this task: whether its image is still on its way to the queue
(a list so that the nested blocks of one call share it)."""


class Handed:
    """A decoded image handed to the engine, which lets go of it once the model's inputs are
    made from it.

    A call may wait in the queue for seconds; while it waits only the model's inputs are needed,
    not the picture they were made from (up to 2048 x 2048, 12 MB). Held by the route and the
    engine's frames alike, the picture stayed in memory until the answer: 64 camera photos
    (12 megapixels) waiting at once took the offline captioner's server to 1.85 GB. Whoever
    hands an image over keeps no other reference to it.
    """

    __slots__ = ("_image",)

    def __init__(self, image: Image.Image) -> None:
        self._image: Image.Image | None = image

    def take(self) -> Image.Image:
        image, self._image = self._image, None
        if image is None:
            raise RuntimeError("the handed image was taken already")
        return image


class EngineState(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


class CaptionEngine:
    def __init__(
        self,
        captioner: Captioner,
        metrics: Metrics,
        *,
        queue_size: int,
        max_batch_size: int,
        max_batch_wait_ms: float,
        cache_size: int,
        max_batch_gather_ms: float = 0.0,
        retry_after_seconds: int = 1,
        shared_cache: SharedCache | None = None,
        background_slots: int = 2,
        background_quiet_ms: float = 0.0,
        background_interval_ms: float = 0.0,
    ) -> None:
        self.captioner = captioner
        self.shared_cache: SharedCache = shared_cache or NoSharedCache()
        self._metrics = metrics
        # Admitted calls: paying, in the queue, or in the model's batch. The queue never refuses
        # an item, as every item comes from an admitted call.
        self._capacity = queue_size + max_batch_size
        self._admitted = 0
        # One more place for each background item's wake-up, and one for the stop signal.
        self._queue: queue.Queue[WorkItem | object] = queue.Queue(
            maxsize=self._capacity + background_slots + 1
        )
        self._background: queue.Queue[WorkItem] = queue.Queue()
        self._background_slots = asyncio.Semaphore(background_slots)
        self._calls = CallActivity()
        self._last_turn = 0.0
        self._quiet_s = background_quiet_ms / 1000
        self._interval_s = background_interval_ms / 1000
        self._cache = CaptionCache(cache_size)
        self._in_flight: dict[tuple[str, str, CaptionOptions], asyncio.Future[Caption]] = {}
        self._retry_after = retry_after_seconds
        self._worker = BatchWorker(
            captioner,
            self._queue,
            max_batch_size=max_batch_size,
            max_wait_s=max_batch_wait_ms / 1000,
            max_gather_s=max_batch_gather_ms / 1000,
            on_batch=self._record_batch,
            background=self._background,
            background_quiet_s=self._quiet_s,
            background_interval_s=self._interval_s,
            calls=self._calls,
        )
        self.state = EngineState.LOADING
        self.error: str | None = None
        # Once the model is ready, what it is and which options it takes no longer change; a
        # captioner builds its info anew on each read (through every wrapper), which every call
        # did five times.
        self._ready_info: ModelInfo | None = None
        self._accepted_options: set[CaptionOptions] = set()

    @property
    def info(self) -> ModelInfo:
        """The captioner's info, read once the model is ready (live before)."""
        return self._ready_info or self.captioner.info

    def _check_options(self, options: CaptionOptions) -> None:
        """``captioner.check_options``, remembered for options it accepted once ready."""
        if options in self._accepted_options:
            return
        self.captioner.check_options(options)
        if self._ready_info is not None and len(self._accepted_options) < _REMEMBERED_OPTIONS:
            self._accepted_options.add(options)

    async def start(self) -> None:
        """Load and warm the model off the event loop; the app answers /healthz meanwhile."""
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._load_and_warm)
        except Exception as error:
            self.state = EngineState.FAILED
            self.error = f"{type(error).__name__}: {error}"
            log.exception("the model failed to load")
            return
        self._metrics.model_load_seconds.set(time.perf_counter() - started)
        self._worker.start()
        self._ready_info = self.captioner.info
        self.state = EngineState.READY
        self._metrics.model_ready.set(1)
        log.info("model ready", extra={"model": self._ready_info.name})

    def _load_and_warm(self) -> None:
        self.captioner.load()
        self.captioner.warmup()

    async def stop(self) -> None:
        if self.state is EngineState.READY:
            await asyncio.to_thread(self._worker.stop, 30)
        self.state = EngineState.STOPPED
        self._metrics.model_ready.set(0)

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def has_cached(self, content_hash: str, options: CaptionOptions) -> bool:
        """Whether this process's cache holds the caption, so that the image need not even be
        decoded: a call for it that follows at once (no await in between) is answered from it."""
        return (content_hash, self.info.name, options) in self._cache

    async def caption(
        self,
        image: Image.Image | Handed | None,
        content_hash: str,
        options: CaptionOptions,
        pay: Callable[[], Awaitable[None]] = _free,
    ) -> tuple[Caption, bool]:
        """Caption one decoded image; return the caption and whether it came from the cache.

        ``image`` may be None only when ``has_cached`` has just said that the cache holds it;
        ``Handed``, the engine keeps it only until it is pre-processed.

        ``pay`` is awaited once the call is sure of an answer: a cached caption is at hand, or
        the call has its place in the queue; if it raises (no credits), the place is given up.
        The model's pre-processing (resize, normalise) runs in a worker thread of the pool, so
        the model thread only ever runs the model; it comes before the place is taken, as
        before, so that a burst is pre-processed while the model works rather than refused. The
        cache key holds the model and the options, so a caption asked for with other options,
        or made by another model, is never reused.
        """
        with self.call_in_progress():
            return await self._caption(image, content_hash, options, pay)

    @contextlib.contextmanager
    def call_in_progress(self) -> Iterator[None]:
        """Count a one-image call as in progress for as long as the block runs.

        The route holds it from its start to its answer (reading, decoding and the cache
        included), not only while the image is in the engine: job work then never starts in
        the gaps of a call, where it would take the cores that the call is about to need."""
        outermost = _ARRIVING.get() is None
        token = _ARRIVING.set([True]) if outermost else None
        self._calls.begin()
        if outermost:
            self._calls.arriving += 1
        try:
            yield
        finally:
            self._calls.end()
            if token is not None:
                self._arrived()
                _ARRIVING.reset(token)

    def _arrived(self) -> None:
        """The current call's image reached the queue, or the call ended without it."""
        still = _ARRIVING.get()
        if still and still[0]:
            still[0] = False
            self._calls.arriving -= 1

    async def background_turn(self) -> None:
        """Wait until a job image may be read, decoded and prepared: no call in progress for
        ``background_quiet_ms``, or ``background_interval_ms`` since the last turn while calls
        never stop (the share jobs keep). Each turn is taken by one image."""
        while True:
            self._calls.changed.clear()
            wait = self._calls.background_due(self._last_turn, self._quiet_s, self._interval_s)
            if wait <= 0:
                break
            with contextlib.suppress(TimeoutError):  # a call came or went: look again
                await asyncio.wait_for(self._calls.changed.wait(), wait)
        self._last_turn = time.perf_counter()

    async def _caption(
        self,
        image: Image.Image | Handed | None,
        content_hash: str,
        options: CaptionOptions,
        pay: Callable[[], Awaitable[None]],
    ) -> tuple[Caption, bool]:
        if self.state is not EngineState.READY:
            raise Overloaded("The model is not ready yet.", retry_after=self._retry_after)
        self._check_options(options)
        key = (content_hash, self.info.name, options)
        known = await self._known(key)
        if known is None:
            if image is None:
                raise RuntimeError("an image not in the cache was not decoded")
            self._refuse_when_full()  # before spending time on pre-processing
            picture = image.take() if isinstance(image, Handed) else image
            prepared = await asyncio.to_thread(self.captioner.preprocess, picture)
            del picture
            known = await self._known(key)  # the same image may have been submitted meanwhile
        if known is not None:
            await pay()
            return known, True
        self._refuse_when_full()
        self._admitted += 1
        enqueued = False
        try:
            await pay()
            self._metrics.cache_misses.inc()
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Caption] = loop.create_future()
            self._queue.put_nowait(WorkItem(prepared, options, future, loop))
            enqueued = True
            self._arrived()
            # The place is held until the model is done with the item, even if the caller left.
            future.add_done_callback(self._leave)
        finally:
            if not enqueued:
                self._leave()
        self._metrics.queue_depth.set(self._queue.qsize())
        self._in_flight[key] = future
        try:
            caption = await asyncio.shield(future)
        finally:
            self._in_flight.pop(key, None)
            self._metrics.queue_depth.set(self._queue.qsize())
        self._cache.put(key, caption)
        if self.shared_cache.mode != "local":  # no thread hop when there is nothing to share
            await asyncio.to_thread(self.shared_cache.put, key, caption)
        return caption, False

    async def caption_background(
        self, image: Image.Image, content_hash: str, options: CaptionOptions
    ) -> tuple[Caption, bool]:
        """Caption an image of a batch job: below every call, one image at a time.

        The model takes a background image only when no call is waiting, and alone, so a call
        waits behind at most one of them; ``background_slots`` bounds how many are queued or
        being prepared, so jobs never fill the queue that calls are admitted to.
        """
        if self.state is not EngineState.READY:
            raise Overloaded("The model is not ready yet.", retry_after=self._retry_after)
        self._check_options(options)
        key = (content_hash, self.info.name, options)
        known = await self._known(key)
        if known is not None:
            return known, True
        async with self._background_slots:
            prepared = await asyncio.to_thread(self.captioner.preprocess, image)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Caption] = loop.create_future()
            self._background.put_nowait(WorkItem(prepared, options, future, loop))
            self._queue.put_nowait(WAKE)
            self._metrics.cache_misses.inc()
            caption = await future
        self._cache.put(key, caption)
        if self.shared_cache.mode != "local":
            await asyncio.to_thread(self.shared_cache.put, key, caption)
        return caption, False

    def _refuse_when_full(self) -> None:
        if self._admitted >= self._capacity:
            raise self._overloaded()

    def _leave(self, _done: object = None) -> None:
        self._admitted -= 1

    def hold_place(self) -> None:
        """Keep a place taken for an answer sent but not yet charged; ``free_place`` gives it
        back. Charges lag behind answers under load, and a crash makes every uncharged answer
        free: counting them against the queue's capacity bounds how many that can be."""
        self._admitted += 1

    def free_place(self) -> None:
        self._leave()

    async def _known(self, key: tuple[str, str, CaptionOptions]) -> Caption | None:
        """A finished caption for ``key``, from the cache or from the same image in flight."""
        cached = self._cache.get(key)
        if cached is not None:
            self._metrics.cache_hits.inc()
            return cached
        shared = self._in_flight.get(key)
        if shared is not None:  # the same image is already being captioned: wait for that
            self._metrics.cache_hits.inc()
            return await asyncio.shield(shared)
        if self.shared_cache.mode == "local":
            return None
        from_replicas = await asyncio.to_thread(self.shared_cache.get, key)
        if from_replicas is not None:  # captioned by another replica
            self._cache.put(key, from_replicas)
            self._metrics.cache_hits.inc()
        return from_replicas

    def _overloaded(self) -> Overloaded:
        self._metrics.rejected.inc()
        return Overloaded(
            "The server is busy: too many images are waiting. Retry shortly.",
            retry_after=self._retry_after,
        )

    def _record_batch(self, size: int, seconds: float) -> None:
        self._metrics.batch_size.observe(size)
        self._metrics.batch_duration.observe(seconds)

"""Clients that send again as soon as they are answered keep filling whole batches.

Eight such clients used to split into two groups that took turns at the model: the first image
of one turn started its batch before the just-answered group's images had arrived, and the two
groups never merged again. The engine now waits a little (``max_batch_gather_ms``, at most a
tenth of the last batch's model time) for calls under way and for as many images as the last
two batches held together.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

from PIL import Image

from imagecaption.engine import CaptionEngine
from imagecaption.engine.batcher import GATHER_SHARE
from imagecaption.models.base import Caption, Captioner, CaptionOptions, ModelInfo
from imagecaption.observability.metrics import Metrics

BATCH_SECONDS = 0.2
CLIENTS = 8


class FixedCostModel(Captioner):
    """A model whose every batch takes the same time whatever its size (as a full model's
    decoder steps nearly do), recording the size of each batch."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(name="fixed-cost", backend="test", preferred_batch_size=CLIENTS)

    def load(self) -> None:
        pass

    def warmup(self) -> None:
        pass

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        time.sleep(BATCH_SECONDS)
        self.batches.append(len(images))
        return [Caption(text="A test picture.") for _ in images]


def engine_for(model: FixedCostModel, wait_ms: float, gather_ms: float) -> CaptionEngine:
    return CaptionEngine(
        model,
        Metrics(),
        queue_size=16,
        max_batch_size=CLIENTS,
        max_batch_wait_ms=wait_ms,
        max_batch_gather_ms=gather_ms,
        cache_size=0,
    )


def batch_sizes(gather_ms: float, seconds: float = 3.0) -> list[int]:
    model = FixedCostModel()
    engine = engine_for(model, wait_ms=2, gather_ms=gather_ms)
    image = Image.new("RGB", (32, 32), (90, 120, 150))

    async def client(number: int, until: float) -> None:
        call = 0
        # Staggered starts, as clients connecting one after another.
        await asyncio.sleep(number * 0.03)
        while time.perf_counter() < until:
            call += 1
            with engine.call_in_progress():  # as the route holds it, from the upload on
                await asyncio.sleep(0.005)  # reading and decoding the upload
                await engine.caption(image, f"{number}-{call}", CaptionOptions())

    async def run() -> None:
        await engine.start()
        try:
            until = time.perf_counter() + seconds
            await asyncio.gather(*(client(n, until) for n in range(CLIENTS)))
        finally:
            await engine.stop()

    asyncio.run(run())
    return model.batches


def test_closed_loop_clients_fill_whole_batches_once_gathered() -> None:
    gathered = batch_sizes(gather_ms=50)
    split = batch_sizes(gather_ms=0)
    # The first batches form while clients are still connecting; the steady state is after.
    assert statistics.mean(gathered[3:]) >= CLIENTS - 1
    assert statistics.mean(split[3:]) < statistics.mean(gathered[3:])


def test_a_lone_client_never_waits_for_company() -> None:
    model = FixedCostModel()
    engine = engine_for(model, wait_ms=0, gather_ms=1000)
    image = Image.new("RGB", (32, 32), (90, 120, 150))

    async def run() -> list[float]:
        await engine.start()
        try:
            latencies = []
            for call in range(4):
                started = time.perf_counter()
                await engine.caption(image, str(call), CaptionOptions())
                latencies.append(time.perf_counter() - started)
            return latencies
        finally:
            await engine.stop()

    latencies = asyncio.run(run())
    assert model.batches == [1, 1, 1, 1]
    # The model's own time and little else: no gathering wait of up to a second.
    assert max(latencies) < BATCH_SECONDS + 0.1


def test_calls_that_never_arrive_hold_a_batch_back_no_longer_than_the_bound() -> None:
    """A stranger's uploads that begin and stall count as calls on their way; the worker waits
    for them at most a tenth of the last batch's model time (here 20 ms), never until they end."""
    model = FixedCostModel()
    engine = engine_for(model, wait_ms=0, gather_ms=1000)
    image = Image.new("RGB", (32, 32), (90, 120, 150))

    async def stalled(release: asyncio.Event) -> None:
        with engine.call_in_progress():
            await release.wait()

    async def run() -> float:
        await engine.start()
        release = asyncio.Event()
        try:
            # Two images together, so that the next batch expects company.
            await asyncio.gather(
                *(engine.caption(image, f"pair-{n}", CaptionOptions()) for n in range(2))
            )
            stalls = [asyncio.create_task(stalled(release)) for _ in range(3)]
            await asyncio.sleep(0.01)
            started = time.perf_counter()
            await engine.caption(image, "alone", CaptionOptions())
            return time.perf_counter() - started
        finally:
            release.set()
            await asyncio.gather(*stalls)
            await engine.stop()

    waited = asyncio.run(run())
    assert model.batches[-1] == 1
    assert waited < BATCH_SECONDS + GATHER_SHARE * BATCH_SECONDS + 0.05

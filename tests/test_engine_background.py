"""Job images run below calls: the model takes a background image only when no call waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from imagecaption.engine import CaptionEngine
from imagecaption.models.base import Caption, CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.observability.metrics import Metrics
from tests.conftest import photo


class GatedCaptioner(OfflineCaptioner):
    """The real offline captioner, whose first model call waits for a gate, and which records
    the order in which work reached the model (by each item's max_length)."""

    def __init__(self) -> None:
        super().__init__(objects=False)
        self.order: list[int | None] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        if options.max_length is not None:  # not the warm-up
            if not self.entered.is_set():
                self.entered.set()
                self.gate.wait(30)
            self.order.extend([options.max_length] * len(inputs))
        return super().caption_prepared(inputs, options)


def test_calls_waiting_go_before_the_next_job_image() -> None:
    captioner = GatedCaptioner()
    engine = CaptionEngine(
        captioner,
        Metrics(),
        queue_size=8,
        max_batch_size=8,
        max_batch_wait_ms=0,
        cache_size=0,
        background_slots=2,
    )
    image = photo("chelsea")

    def options(tag: int) -> CaptionOptions:
        return CaptionOptions(read_text=False, max_length=tag)

    async def run() -> None:
        await engine.start()
        try:
            first = asyncio.create_task(engine.caption_background(image, "job-1", options(101)))
            await asyncio.to_thread(captioner.entered.wait, 30)
            second = asyncio.create_task(engine.caption_background(image, "job-2", options(102)))
            await asyncio.sleep(0.5)  # prepared and queued behind the first
            calls = [
                asyncio.create_task(engine.caption(image, f"call-{tag}", options(tag)))
                for tag in (1, 2, 3)
            ]
            await asyncio.sleep(0.5)
            captioner.gate.set()
            await asyncio.gather(first, second, *calls)
        finally:
            captioner.gate.set()
            await engine.stop()

    asyncio.run(run())
    assert captioner.order[0] == 101  # in the model's hands when the calls came
    assert sorted(captioner.order[1:4]) == [1, 2, 3]  # every waiting call before the next
    assert captioner.order[4] == 102

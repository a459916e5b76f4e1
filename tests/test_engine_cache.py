"""The engine answers a cached caption without the image: a server need not decode it again."""

from __future__ import annotations

import asyncio

import pytest

from imagecaption.engine import CaptionEngine
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.observability.metrics import Metrics
from tests.conftest import photo


def test_a_cached_caption_needs_no_image_and_an_uncached_one_does() -> None:
    engine = CaptionEngine(
        OfflineCaptioner(objects=False),
        Metrics(),
        queue_size=4,
        max_batch_size=1,
        max_batch_wait_ms=0,
        cache_size=8,
    )
    options = CaptionOptions(read_text=False)

    async def calls() -> None:
        await engine.start()
        try:
            assert not engine.has_cached("cat", options)
            first, cached = await engine.caption(photo("chelsea"), "cat", options)
            assert not cached
            assert engine.has_cached("cat", options)
            assert not engine.has_cached("cat", CaptionOptions(read_text=False, max_length=5))
            again, cached = await engine.caption(None, "cat", options)
            assert (again, cached) == (first, True)
            with pytest.raises(RuntimeError):  # never hands the model a missing image
                await engine.caption(None, "another picture", options)
        finally:
            await engine.stop()

    asyncio.run(calls())

"""Captions the images a worker claimed: read, decode, the engine's background lane, settle.

The runner works on the server's event loop (the engine, the fetcher and the decoder live
there); a queue worker thread hands it one claim at a time and waits. Each image is settled
(charged or refunded) by the job store in one transaction; an image the process could not
finish (the model is not ready, the server is stopping) goes back to the queue untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from imagecaption.api.objects import objects_in_pixels, tags_as_listed, text_in_pixels
from imagecaption.api.schemas import CaptionParams
from imagecaption.engine import CaptionEngine
from imagecaption.errors import Overloaded, ServiceError
from imagecaption.images import (
    ImageDecoder,
    ImageFetcher,
    classify_image_value,
    content_hash,
    decode_inline_image,
)
from imagecaption.jobs.store import ClaimedImage, SqlJobStore
from imagecaption.models.base import Caption
from imagecaption.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class JobRunner:
    store: SqlJobStore
    engine: CaptionEngine
    fetcher: ImageFetcher
    decoder: ImageDecoder
    settings: Settings
    stopping: bool = False

    async def run_claim(self) -> int:
        """Claim the fairest job's next images and caption them; return how many were done."""
        claimed = await asyncio.to_thread(
            self.store.claim, self.settings.job_chunk_size, self.settings.job_lease_seconds
        )
        for position, image in enumerate(claimed):
            if self.stopping:
                await asyncio.to_thread(self.store.give_back, claimed[position:])
                return position
            try:
                await self._caption_one(image)
            except Overloaded:  # not ready or stopping: another worker or later takes them
                await asyncio.to_thread(self.store.give_back, claimed[position:])
                return position
        return len(claimed)

    async def _caption_one(self, image: ClaimedImage) -> None:
        # Reading and decoding wait for the calls too: on a few cores they would slow them.
        await self.engine.background_turn()
        started = time.perf_counter()
        params = CaptionParams.model_validate(image.options)
        try:
            value = image.source.strip()
            if classify_image_value(value) == "url":
                data = await self.fetcher.fetch(value)
            else:
                data = decode_inline_image(value, self.settings.max_upload_bytes)
            picture = await self.decoder.decode(data)
            options = params.to_options(self.settings.read_text)
            if image.options.get("lang"):
                options = replace(options, lang=image.options["lang"])
            caption, cached = await self.engine.caption_background(
                picture.image, content_hash(data), options
            )
        except Overloaded:
            raise
        except ServiceError as failure:
            await self._settle(image, started, error=failure.message, status=failure.status_code)
            return
        except Exception:
            log.exception("a job image failed", extra={"job_id": image.job_id})
            await self._settle(image, started, error="Internal error.", status=500)
            return
        result = caption_data(
            caption,
            params,
            model=self.engine.captioner.info.name,
            cached=cached,
            size=picture.size_as_sent,
        )
        await self._settle(image, started, result=result, status=200)

    async def _settle(
        self,
        image: ClaimedImage,
        started: float,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        status: int,
    ) -> None:
        await asyncio.to_thread(
            lambda: self.store.finish(
                image,
                result=result,
                error=error,
                status=status,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )


def caption_data(
    caption: Caption, params: CaptionParams, *, model: str, cached: bool, size: tuple[int, int]
) -> dict[str, Any]:
    """A job image's result: the fields a single call's ``data`` has for the same options."""
    data: dict[str, Any] = {"caption": caption.text}
    if params.num_captions > 1:
        data["captions"] = [
            {"caption": c.text, "score": round(c.score, 4)} for c in caption.candidates
        ]
    if params.details:
        data["model"] = model
        data["cached"] = cached
        if caption.objects is not None:
            data["objects"] = objects_in_pixels(caption.objects, *size)
        if caption.text_lines is not None:
            data["text"] = text_in_pixels(caption.text_lines, *size)
        if caption.tags is not None:
            data["tags"] = tags_as_listed(caption.tags)
    return data

"""Decoding for a server: off the event loop, and never more pixels at once than the budget."""

from __future__ import annotations

from anyio import to_thread

from imagecaption.images.budget import PixelBudget
from imagecaption.images.decode import Decoded, decode_cost, decode_with_size


class ImageDecoder:
    """Decodes images in worker threads within one shared pixel budget.

    The budget defaults to the pixel limit: one image of the largest allowed size decodes at a
    time, or any number of smaller ones that add up to it.
    """

    def __init__(self, max_pixels: int, pixels_at_once: int | None = None) -> None:
        self.max_pixels = max_pixels
        self.budget = PixelBudget(pixels_at_once or max_pixels)

    async def decode(self, data: bytes) -> Decoded:
        """The header is read twice (to know the cost, then to decode): a few microseconds
        against holding an opened image, and its buffers, outside the budget."""
        cost = await to_thread.run_sync(lambda: decode_cost(data, max_pixels=self.max_pixels))
        async with self.budget.hold(cost):
            return await to_thread.run_sync(
                lambda: decode_with_size(data, max_pixels=self.max_pixels)
            )

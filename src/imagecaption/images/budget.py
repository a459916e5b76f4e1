"""A budget of pixels shared by every decode in the process, so memory stays bounded under load.

Decoding costs memory in proportion to pixels, and how many pixels a decode will hold is known
from the header before it starts. Counting a semaphore in pixels instead of requests lets many
small images decode side by side while the largest ones take their turn, first come first
served, so a burst of worst-case images costs what one or two of them cost, not what all do.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PixelBudget:
    """An asyncio semaphore counted in pixels, fair to large requests (FIFO, no overtaking)."""

    def __init__(self, pixels: int) -> None:
        if pixels < 1:
            raise ValueError("a pixel budget must be at least one pixel")
        self.capacity = pixels
        self._free = pixels
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        """Wait until ``pixels`` are free and keep them for the block.

        A request larger than the whole budget waits until it is alone rather than forever.
        """
        cost = max(0, min(pixels, self.capacity))
        await self._acquire(cost)
        try:
            yield
        finally:
            self._release(cost)

    async def _acquire(self, cost: int) -> None:
        if not self._waiting and self._free >= cost:
            self._free -= cost
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((cost, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release(cost)  # granted just as the caller gave up: hand it on
            else:
                self._waiting.remove((cost, granted))
                self._grant()  # a large request leaving the head may unblock smaller ones
            raise

    def _release(self, cost: int) -> None:
        self._free += cost
        self._grant()

    def _grant(self) -> None:
        while self._waiting and self._waiting[0][0] <= self._free:
            cost, granted = self._waiting.popleft()
            self._free -= cost
            granted.set_result(None)

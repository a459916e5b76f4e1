"""The pixel budget: small decodes side by side, large ones in turn, first come first served."""

from __future__ import annotations

import asyncio

import pytest

from imagecaption.images import PixelBudget


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_holds_that_fit_run_together() -> None:
    budget = PixelBudget(100)
    async with budget.hold(40), budget.hold(60):
        assert budget.in_use == 100
    assert budget.in_use == 0


async def test_a_hold_that_does_not_fit_waits_for_a_release() -> None:
    budget = PixelBudget(100)
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with budget.hold(70):
            order.append("first in")
            await release.wait()
        order.append("first out")

    async def second() -> None:
        async with budget.hold(70):
            order.append("second in")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await settle()
    assert order == ["first in"]
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first in", "first out", "second in"]


async def test_a_waiting_large_hold_is_not_overtaken_by_small_ones() -> None:
    """Without first come first served, a steady stream of small images would starve a large
    one forever."""
    budget = PixelBudget(100)
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with budget.hold(50):
            await release.wait()

    async def take(name: str, pixels: int) -> None:
        async with budget.hold(pixels):
            order.append(name)

    tasks = [asyncio.create_task(holder())]
    await settle()
    tasks.append(asyncio.create_task(take("large", 100)))
    await settle()
    tasks.append(asyncio.create_task(take("small", 10)))  # would fit, but must not overtake
    await settle()
    assert order == []
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["large", "small"]


async def test_more_than_the_whole_budget_waits_until_alone_then_runs() -> None:
    budget = PixelBudget(100)
    async with budget.hold(10_000):
        assert budget.in_use == 100
    assert budget.in_use == 0


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    budget = PixelBudget(100)
    release = asyncio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with budget.hold(60):
            await release.wait()

    async def take(name: str, pixels: int) -> None:
        async with budget.hold(pixels):
            order.append(name)

    hold = asyncio.create_task(holder())
    await settle()
    large = asyncio.create_task(take("large", 100))
    await settle()
    small = asyncio.create_task(take("small", 30))
    await settle()
    large.cancel()  # the large one was blocking the small one, which fits beside the holder
    await settle()
    assert order == ["small"]
    release.set()
    await asyncio.gather(hold, small)
    with pytest.raises(asyncio.CancelledError):
        await large
    assert budget.in_use == 0


def test_a_budget_needs_a_pixel() -> None:
    with pytest.raises(ValueError, match="at least one pixel"):
        PixelBudget(0)

"""Refusals by the connection limits are logged: the first of each kind at once, the rest summed.

A flood of refused connections must show in the log without becoming a flood of log lines; the
end-to-end tests in ``tests/e2e/test_connections.py`` see the first line of each kind, this one
that the later ones are counted and reported once the period is over.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from imagecaption.api import connections
from imagecaption.api.connections import RefusalReport


def test_refusals_are_logged_first_at_once_then_summed_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    report = RefusalReport(every_seconds=0.3)
    open_connections = {1, 2, 3}

    async def flood() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(5):
            report.note("requests answered 431 (too many headers)", open_connections, loop)
        report.note("requests answered 414 (URL too long)", open_connections, loop)
        await asyncio.sleep(0.5)

    with caplog.at_level(logging.WARNING, logger="imagecaption.connections"):
        asyncio.run(flood())
    lines = [record.getMessage() for record in caplog.records]
    after = f"(3 connections open, limit {connections.LIMITS.max_connections})"
    assert lines == [
        f"connection limits: 1 requests answered 431 (too many headers) {after}",
        f"connection limits: 1 requests answered 414 (URL too long) {after}",
        f"connection limits: 4 requests answered 431 (too many headers) {after}",
    ]

"""Fixtures shared by the replica tests: a throw-away PostgreSQL database per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.accounts.conftest import scratch_postgres_database


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with scratch_postgres_database() as url:
        yield url

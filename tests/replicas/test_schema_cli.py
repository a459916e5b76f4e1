"""On a shared PostgreSQL the schema changes only on purpose: ``db upgrade`` or ``--migrate``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.accounts.conftest import scratch_postgres_database


def imagecaption(
    tmp_path: Path, database_url: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'model = "offline"\ndatabase_url = "{database_url}"\n')
    return subprocess.run(
        [sys.executable, "-m", "imagecaption", *args, "--data-dir", str(tmp_path)],
        env={**os.environ, "IMAGECAPTION_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_serve_refuses_an_outdated_schema_until_upgraded(tmp_path: Path) -> None:
    with scratch_postgres_database() as url:
        current = imagecaption(tmp_path, url, "db", "current")
        assert current.returncode == 1
        assert "outdated" in current.stdout

        refused = imagecaption(tmp_path, url, "serve", "--port", "0")
        assert refused.returncode == 1
        assert "imagecaption db upgrade" in refused.stderr
        assert "--migrate" in refused.stderr

        assert imagecaption(tmp_path, url, "db", "upgrade").returncode == 0
        current = imagecaption(tmp_path, url, "db", "current", "--json")
        assert current.returncode == 0
        assert '"up_to_date": true' in current.stdout

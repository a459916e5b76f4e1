"""Session fixtures of the container tests: the engine, and the image built once per session.

Without podman (or without root) these tests skip and say why; with it, a build or run failure
is a test failure, reported with the engine's output.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts.conftest import scratch_postgres_database
from tests.deploy.engine import EngineError, Podman, unavailable_reason
from tests.deploy.images import BuiltImage, app_image, base_image


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    engine = Podman.create(Path(tmp_path_factory.mktemp("podman")))
    try:
        engine.run("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60)
    except EngineError as error:
        pytest.skip(f"podman is installed but cannot run here: {error}")
    engine.remove_stale()
    return engine


@pytest.fixture(scope="session")
def image(podman: Podman) -> BuiltImage:
    """The Dockerfile's image (built on a locally bootstrapped Debian), by content hash."""
    return app_image(podman, base_image(podman))


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with scratch_postgres_database() as url:
        yield url


def require_kubectl() -> str:
    """kubectl renders the Kustomize overlays (``kubectl kustomize``, no cluster needed)."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed: it renders the Kustomize overlays")
    return found

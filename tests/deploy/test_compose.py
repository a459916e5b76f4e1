"""compose.yaml, as far as podman-compose can run it where no image registry is reachable: the
whole file resolves, and its api service (command with --migrate, environment, read-only root,
data volume) serves against the PostgreSQL and Redis of this machine, with the documented
``exec api imagecaption keys create``."""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import encode, photo
from tests.deploy.engine import Podman, run_tool
from tests.deploy.images import BuiltImage
from tests.e2e.server import free_port
from tests.replicas.cluster import REDIS_URL, require_redis

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = ROOT / "tests" / "deploy" / "compose.podman.yaml"

pytestmark = pytest.mark.slow


def podman_compose() -> list[str]:
    if importlib.util.find_spec("podman_compose") is not None:
        return [sys.executable, "-m", "podman_compose"]
    found = shutil.which("podman-compose")
    if found is None:
        pytest.skip("podman-compose is not installed (pip install podman-compose)")
    return [found]


class Compose:
    """compose.yaml, then the files given (``more``), then the test's own override."""

    def __init__(
        self,
        podman: Podman,
        image: str,
        database_url: str,
        more: tuple[Path, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.project = f"imagecaption-test-{secrets.token_hex(3)}"
        self.port = free_port()
        self.env = {
            **podman.env,
            **(env or {}),
            "IMAGECAPTION_TEST_IMAGE": image,
            "IMAGECAPTION_TEST_DATABASE_URL": database_url,
            "IMAGECAPTION_TEST_REDIS_URL": REDIS_URL,
            "IMAGECAPTION_TEST_PORT": str(self.port),
        }
        self.podman = podman
        self.files = [ROOT / "compose.yaml", *more, OVERRIDE]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __call__(self, *args: str, timeout: float = 120) -> str:
        files = [option for path in self.files for option in ("-f", str(path))]
        command = [*podman_compose(), "-p", self.project, *files, *args]
        return run_tool(command, env=self.env, timeout=timeout, cwd=ROOT).stdout


@contextlib.contextmanager
def api_up(running: Compose) -> Iterator[Compose]:
    """The api service alone (its database and Redis are this machine's), ready; then down."""
    require_redis()
    try:
        running("up", "--detach", "--no-deps", "api")
        container = f"{running.project}_api_1"
        running.podman.wait_healthy_http(running.url, container, timeout=180)
        yield running
    finally:
        running("down", "--volumes", timeout=120)


@pytest.fixture(scope="module")
def compose(podman: Podman, image: BuiltImage, database_url: str) -> Iterator[Compose]:
    with api_up(Compose(podman, image.name, database_url)) as running:
        yield running


def test_whole_file_resolves(podman: Podman) -> None:
    """podman-compose asks podman for its version first, hence the fixture."""
    command = [*podman_compose(), "-f", str(ROOT / "compose.yaml"), "config"]
    resolved = yaml.safe_load(run_tool(command, env=podman.env, timeout=60, cwd=ROOT).stdout)
    assert {"api", "postgres", "redis"} <= set(resolved["services"])
    assert resolved["services"]["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_api_service_serves_on_the_shared_database(compose: Compose) -> None:
    url = compose.url
    ready = httpx.get(url + "/readyz", timeout=10).json()
    assert ready["shared_state"] == {"rate_limits": "shared", "cache": "shared"}
    # exec passes the command's stderr (the key's id) through on stdout, after the key.
    key = compose("exec", "api", "imagecaption", "keys", "create", "--plan", "pro").split()[0]
    response = httpx.post(
        url + "/v1/imagecaption",
        headers={"X-API-Key": key},
        files={"image": ("cat.jpg", encode(photo("chelsea")))},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    details = compose.podman.inspect(f"{compose.project}_api_1")
    assert details["HostConfig"]["ReadonlyRootfs"] is True

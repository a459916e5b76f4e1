"""The image, built from the Dockerfile and run: what a user of ``docker run`` relies on."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import encode, photo
from tests.deploy.containers import served
from tests.deploy.engine import Podman
from tests.deploy.images import BuiltImage

pytestmark = pytest.mark.slow
SERVER_UID = "10001"


@pytest.fixture
def volume(podman: Podman) -> Iterator[str]:
    name = f"imagecaption-test-data-{secrets.token_hex(4)}"
    podman.run("volume", "create", name)
    yield name
    podman.run("volume", "rm", "--force", name, check=False)


def test_image_is_small_and_carries_no_build_tools(podman: Podman, image: BuiltImage) -> None:
    assert image.size_bytes < 600 * 1024 * 1024, f"{image.size_bytes / 1e6:.0f} MB"
    probe = (
        "import importlib.util, shutil, sys; "
        "print([m for m in ('torch', 'pip', 'setuptools', 'transformers') "
        "if importlib.util.find_spec(m)], [t for t in ('gcc', 'cc', 'make') if shutil.which(t)])"
    )
    result = podman.run("run", "--rm", image.name, "python3", "-c", probe)
    assert result.stdout.strip() == "[] []"
    caches = ["sh", "-c", "test -e /root/.cache && echo cache || echo clean"]
    assert podman.run("run", "--rm", "--user", "0", image.name, *caches).stdout.strip() == "clean"


def test_serves_as_non_root_with_a_key_made_inside(podman: Podman, image: BuiltImage) -> None:
    with served(podman, image.name) as server:
        status = server.main_process_status()
        assert status["Uid"].split()[0] == SERVER_UID
        ready = httpx.get(server.url + "/readyz", timeout=10).json()
        assert ready["status"] == "ready"
        assert ready["model"]["name"].startswith("offline")
        key, _ = server.create_key("free")
        response = server.caption(key, encode(photo("chelsea")))
        assert response.status_code == 200, response.text
        assert "cat" in response.json()["data"]["caption"].lower()
        assert response.headers["x-api-current-plan"] == "free"


def test_data_volume_keeps_the_database_across_a_restart(
    podman: Podman, image: BuiltImage, volume: str
) -> None:
    cat = encode(photo("chelsea"))
    with served(podman, image.name, volume=volume) as first:
        key, _ = first.create_key("free")
        before = int(first.caption(key, cat).headers["x-api-remaining-tokens"])
        secret, _ = first.exec("cat", "/data/session-secret")
        hub, _ = first.exec("sh", "-c", "echo $HF_HOME")
    with served(podman, image.name, volume=volume) as second:
        response = second.caption(key, cat)
        assert response.status_code == 200, "the key made before the restart must still work"
        assert int(response.headers["x-api-remaining-tokens"]) == before - 10
        assert second.exec("cat", "/data/session-secret")[0] == secret
    # Full models are downloaded into the hub cache, which lies on the same volume.
    assert hub.strip().startswith("/data/")


def test_healthcheck_reports_healthy_and_unhealthy(podman: Podman, image: BuiltImage) -> None:
    with served(podman, image.name) as server:
        assert podman.run("healthcheck", "run", server.name, check=False).returncode == 0
    # The same check against a container whose server is not running must fail.
    idle = ["python3", "-c", "import time; time.sleep(60)"]
    with served(podman, image.name, command=idle, ready=False) as silent:
        result = podman.run("healthcheck", "run", silent.name, check=False, timeout=60)
        assert result.returncode != 0, result.stdout + result.stderr


def test_sigterm_lets_the_call_in_flight_finish(podman: Podman, image: BuiltImage) -> None:
    with served(podman, image.name) as server:
        key, _ = server.create_key("free")
        head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="c.jpg"\r\n\r\n'
        started = threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield head
            started.set()
            time.sleep(2)  # SIGTERM lands while the request is still arriving
            yield encode(photo("chelsea"))
            yield b"\r\n--b--\r\n"

        answers: list[httpx.Response] = []

        def call() -> None:
            answers.append(
                httpx.post(
                    server.url + "/v1/imagecaption",
                    headers={"X-API-Key": key, "Content-Type": "multipart/form-data; boundary=b"},
                    content=slow_body(),
                    timeout=60,
                )
            )

        caller = threading.Thread(target=call)
        caller.start()
        assert started.wait(10)
        time.sleep(0.5)
        stop_started = time.monotonic()
        podman.run("stop", "--time", "30", server.name, container=server.name, timeout=60)
        stop_seconds = time.monotonic() - stop_started
        caller.join(60)
        assert answers, "the call in flight got no answer"
        assert answers[0].status_code == 200, answers[0].text
        state = podman.inspect(server.name)["State"]
        assert state["ExitCode"] == 0, podman.logs(server.name)
        assert stop_seconds < 25, "stopped by the engine's kill, not by the server itself"
        assert '"stopped"' in podman.logs(server.name)

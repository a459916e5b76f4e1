"""One container of the image, serving on a loopback port of the host, and what tests ask of it."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.deploy.engine import Podman
from tests.e2e.server import free_port


@dataclass
class Served:
    podman: Podman
    name: str
    url: str

    def exec(self, *args: str, timeout: float = 120) -> tuple[str, str]:
        result = self.podman.run("exec", self.name, *args, timeout=timeout, container=self.name)
        return result.stdout, result.stderr

    def create_key(self, plan: str) -> tuple[str, str]:
        """``imagecaption keys create`` inside the container: (the key, its public id)."""
        key, report = self.exec("imagecaption", "keys", "create", "--plan", plan)
        return key.strip(), report.split("created key ", 1)[1].split()[0]

    def caption(self, key: str, image: bytes) -> httpx.Response:
        return httpx.post(
            self.url + "/v1/imagecaption",
            headers={"X-API-Key": key},
            files={"image": ("photo.jpg", image)},
            timeout=60,
        )

    def main_process_status(self) -> dict[str, str]:
        """/proc/<pid>/status of the server process, read from the host."""
        pid = self.podman.inspect(self.name)["State"]["Pid"]
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


@contextlib.contextmanager
def served(
    podman: Podman,
    image: str,
    *,
    volume: str | None = None,
    mounts: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    ready: bool = True,
) -> Iterator[Served]:
    """``podman run`` the image on the host network at a free port; removed afterwards.
    ``volume`` is mounted at /data; ``mounts`` are more ``--volume`` arguments."""
    name = f"imagecaption-test-{secrets.token_hex(4)}"
    port = free_port()
    args = ["run", "--detach", "--name", name, "--network", "host"]
    args += ["--env", f"IMAGECAPTION_PORT={port}"]
    for variable, value in (env or {}).items():
        args += ["--env", f"{variable}={value}"]
    if volume:
        args += ["--volume", f"{volume}:/data"]
    for mount in mounts:
        args += ["--volume", mount]
    podman.run(*args, image, *(command or []))
    container = Served(podman, name, f"http://127.0.0.1:{port}")
    try:
        if ready:
            podman.wait_healthy_http(container.url, name)
        yield container
    finally:
        podman.remove_containers([name])

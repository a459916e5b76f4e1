"""Podman, driven as the container tests need it: bounded in time, loud when it fails.

Every call has a time limit, and a failure raises with the command, its output and, where a
container is involved, that container's log, so that a red test says why without a rerun.
The engine is configured by a containers.conf of the test session's own (the runc runtime, the
cgroupfs manager, explicit ulimits, events in a file): hosts without systemd, or whose default
runtime cannot manage cgroups, run containers that way, and the machine's own configuration is
left alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

PACKAGES = "podman buildah runc catatonit debootstrap"
# Every container, pod, volume and secret the tests make is named with this prefix.
TEST_PREFIX = "imagecaption-test-"
STALE_SECONDS = 3600


class EngineError(AssertionError):
    """A podman command failed; the message carries everything needed to see why."""


def unavailable_reason() -> str | None:
    """Why containers cannot run here, or None when they can."""
    if shutil.which("podman") is None:
        return f"podman is not installed (Debian: apt-get install {PACKAGES})"
    if os.geteuid() != 0:
        return "the container tests run podman as root (host networking, runc, cgroupfs)"
    return None


@dataclass
class Podman:
    """The podman command with this session's configuration."""

    config_dir: Path

    @classmethod
    def create(cls, config_dir: Path) -> Podman:
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "containers.conf").write_text(CONTAINERS_CONF)
        return cls(config_dir)

    @property
    def env(self) -> dict[str, str]:
        """Also for tools that call podman themselves (podman-compose)."""
        return {**os.environ, "CONTAINERS_CONF": str(self.config_dir / "containers.conf")}

    def run(
        self,
        *args: str,
        timeout: float = 120,
        check: bool = True,
        input_text: str | None = None,
        container: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``podman args``; on failure the error names ``container``'s log too."""
        return run_tool(
            ["podman", *args],
            env=self.env,
            timeout=timeout,
            check=check,
            input_text=input_text,
            explain=(lambda: self.logs(container)) if container else None,
        )

    def logs(self, container: str, tail: int = 80) -> str:
        result = run_tool(
            ["podman", "logs", "--tail", str(tail), container],
            env=self.env,
            timeout=30,
            check=False,
        )
        return f"--- log of {container} ---\n{result.stdout}{result.stderr}"

    def exists(self, kind: str, name: str) -> bool:
        return self.run(kind, "exists", name, check=False, timeout=30).returncode == 0

    def inspect(self, name: str, kind: str = "container") -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.run(kind, "inspect", name).stdout)
        return found[0]

    def remove_stale(self) -> None:
        """Pods and containers left by an earlier run that was killed before its cleanup (an
        hour old at least, so that a run going on beside this one keeps its own)."""
        now = time.time()
        pods = json.loads(self.run("pod", "ps", "--format", "json").stdout or "[]")
        for pod in pods:
            created = pod.get("Created", "")
            if pod["Name"].startswith(TEST_PREFIX) and _age(created, now) > STALE_SECONDS:
                self.run("pod", "rm", "--force", pod["Name"], check=False, timeout=60)
        containers = json.loads(self.run("ps", "--all", "--format", "json").stdout or "[]")
        stale = [
            name
            for container in containers
            for name in container.get("Names", [])
            if name.startswith(TEST_PREFIX) and now - container.get("Created", now) > STALE_SECONDS
        ]
        self.remove_containers(stale)
        volumes = json.loads(self.run("volume", "ls", "--format", "json").stdout or "[]")
        for volume in volumes:
            created = volume.get("CreatedAt", "")
            if volume["Name"].startswith(TEST_PREFIX) and _age(created, now) > STALE_SECONDS:
                self.run("volume", "rm", volume["Name"], check=False, timeout=60)

    def remove_containers(self, names: Iterable[str]) -> None:
        for name in names:
            self.run("rm", "--force", "--volumes", "--time", "5", name, check=False, timeout=60)

    def wait_healthy_http(
        self, url: str, container: str, timeout: float = 120, path: str = "/readyz"
    ) -> None:
        """Until ``url + path`` answers 200, or raise with its last answer and the container's
        log, less the access lines of this polling (they pushed the start-up out of the tail)."""
        import httpx

        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(url + path, timeout=2)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:2000]}"
            except httpx.TransportError as error:
                last = repr(error)
            details = self.inspect(container)
            restarts = details["HostConfig"].get("RestartPolicy", {}).get("Name") not in ("", "no")
            if details["State"].get("Status") == "exited" and not restarts:
                break
            time.sleep(0.3)
        polled = f'"path": "{path}"'
        log = "\n".join(
            line for line in self.logs(container, tail=5000).splitlines() if polled not in line
        )
        raise EngineError(f"{url}{path} not ready in {timeout}s, last answer: {last}\n{log}")


def run_tool(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    check: bool = True,
    input_text: str | None = None,
    cwd: Path | None = None,
    explain: Any = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a time limit; a failure or a timeout raises with its whole output."""
    try:
        result = subprocess.run(
            command,
            env=dict(env) if env is not None else None,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = _text(expired.stdout) + _text(expired.stderr)
        extra = explain() if explain else ""
        raise EngineError(
            f"timed out after {timeout}s: {' '.join(command)}\n{output[-6000:]}\n{extra}"
        ) from None
    if check and result.returncode != 0:
        extra = explain() if explain else ""
        raise EngineError(
            f"exit {result.returncode}: {' '.join(command)}\n"
            f"{result.stdout[-4000:]}{result.stderr[-6000:]}\n{extra}"
        )
    return result


def _age(created: str, now: float) -> float:
    """Seconds since an RFC 3339 time as podman writes it (nanoseconds, Z or an offset)."""
    from datetime import datetime

    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", created).replace("Z", "+00:00")
    try:
        return now - datetime.fromisoformat(trimmed).timestamp()
    except ValueError:
        return 0.0


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value

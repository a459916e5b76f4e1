"""Starts the real ``imagecaption serve`` command in a subprocess and waits until it is ready."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    data_dir: Path
    config: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str) -> str:
        """Run an operator command against this server's database; return its stdout."""
        return self.cli_run(*args).stdout

    def cli_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "imagecaption", *args, "--data-dir", str(self.data_dir)],
            env={**os.environ, "IMAGECAPTION_CONFIG": str(self.config)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"imagecaption {' '.join(args)} failed: {result.stderr}")
        return result

    def create_key(self, plan: str) -> str:
        return self.create_key_with_id(plan)[0]

    def create_key_with_id(self, plan: str) -> tuple[str, str]:
        """The secret (stdout, alone) and the public key id (reported on stderr)."""
        result = self.cli_run("keys", "create", "--plan", plan)
        key_id = result.stderr.split("created key ", 1)[1].split()[0]
        return result.stdout.strip(), key_id

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(
    data_dir: Path,
    config_text: str,
    timeout: float = 180,
    launcher: str = "imagecaption",
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    """``launcher`` is the module run with ``python -m``: the command itself, or a test wrapper
    around it (such as ``tests.e2e.loopback_serve``), found from the repository root.
    ``extra_env`` is added to the server's environment (a benchmark runs another version of
    the code with its ``PYTHONPATH``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "config.toml"
    config.write_text(config_text)
    port = free_port()
    log_path = data_dir / "server.log"
    env = {**os.environ, "IMAGECAPTION_CONFIG": str(config), **(extra_env or {})}
    if launcher != "imagecaption":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                launcher,
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", data_dir, config, process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{server.logs()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready in {timeout}s:\n{server.logs()}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

"""The benchmark's side of a peer: its worker process, and a measurement that drives it."""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.peers.environment import REPO_ROOT
from benchmarks.throughput import busy_window


class PeerWorker:
    """A worker process for one peer configuration; ``start`` returns before it is ready, so
    that the caller can decide the order of the (CPU-heavy) exports."""

    def __init__(self, python: Path, peer: str, folder: Path, work: Path, images: Path) -> None:
        self.peer = peer
        self.log_path = work / f"{peer}.log"
        work.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = [str(python), "-m", "benchmarks.peers.worker", "--peer", peer]
        command += ["--folder", str(folder), "--work", str(work / peer), "--images", str(images)]
        self._process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self.ready: dict[str, Any] = {}

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def _receive(self) -> dict[str, Any]:
        line = self._pipes()[1].readline()
        if not line:
            tail = self.log_path.read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError(f"peer {self.peer} exited: " + " | ".join(tail))
        answer: dict[str, Any] = json.loads(line)
        return answer

    def wait_ready(self) -> dict[str, Any]:
        """The worker's first answer: ready (precision, export time), unsupported or error."""
        self.ready = self._receive()
        return self.ready

    def request(self, command: dict[str, Any]) -> dict[str, Any]:
        self._pipes()[0].write(json.dumps(command) + "\n")
        self._pipes()[0].flush()
        return self._receive()

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(BrokenPipeError, RuntimeError):
                self.request({"quit": True})
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._log.close()


@dataclass
class PeerMeasurement:
    """One peer at one concurrency, accumulated over the rounds like bench_models' own:
    ``run`` hands the worker the next slice of this measurement's images."""

    worker: PeerWorker
    start: int
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    calls: int = 0
    answered: int = 0
    seconds: float = 0.0
    """Answers and seconds while every client was busy (``busy_window``)."""

    def run(self, calls: int) -> None:
        first = self.start + self.calls
        answer = self.worker.request(
            {"run": list(range(first, first + calls)), "concurrency": self.concurrency}
        )
        self.latencies += answer["latencies_ms"]
        answered, seconds = busy_window(answer["finished_s"], self.concurrency)
        self.answered += answered
        self.seconds += seconds
        self.calls += calls

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

"""What a call costs besides the model: a cached call against the bare web stack, in one run.

Two servers run side by side on loopback, each in its own process:

- **bare**: ``benchmarks.bare_app``, a FastAPI endpoint under uvicorn that takes the same
  multipart upload and answers a fixed caption, with nothing around it;
- **ours**: ``imagecaption serve`` as it ships (SQLite in its data folder unless
  ``--database-url`` names another), answering every call from its caption cache: the same small
  image again and again, under one key, so that all it does besides the web stack is what every
  call pays (authentication, rate limit, credits reserved and charged, usage, metrics, logs);
- **ours, other code** (with ``--other-source DIR``): the same, run from another checkout's
  ``src`` folder (an earlier commit, to measure a change before and after in one run).

One client process sends the same prepared request over ``--concurrency`` keep-alive
connections (raw sockets on an event loop, so that the client's own cost stays small and the
same for both), in rounds that alternate between the servers (and the order within a round), so
that both see the same machine. Each phase is bounded by a number of calls and a time limit.
Printed per server: calls/s (median over the rounds, counted while every connection was busy,
as ``throughput.busy_window`` counts), the server process's CPU time per call (user and system,
from /proc: less disturbed than wall time on a shared machine; ours includes the charge it
commits after each answer) and how much of it the event loop's thread used, and the ratios
ours / bare. Linux only.

    python -m benchmarks.bench_overhead [--calls 1500] [--rounds 5] [--concurrency 16]
        [--other-source ../imagecaption-before --other-label "ours, before"]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.conftest import photo
from tests.e2e.server import free_port, run_server

from benchmarks.throughput import busy_window

BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"
PLAN = "bench"


def small_jpeg() -> bytes:
    """A small photograph (256 pixels wide, about 10 KB), as a client might send a thumbnail."""
    image = photo("chelsea")
    image.thumbnail((256, 256))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def caption_request(port: int, key: str, image: bytes) -> bytes:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        "POST /v1/imagecaption HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"X-API-Key: {key}\r\n"
        "Accept: application/json\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def cpu_seconds(pid: int) -> float:
    return _cpu(Path(f"/proc/{pid}/stat"))


def loop_thread_seconds(pid: int) -> float:
    """The CPU time of the process's first thread, the one that runs the event loop."""
    return _cpu(Path(f"/proc/{pid}/task/{pid}/stat"))


def _cpu(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head[9:12]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    if status != b"200" or b'"caption"' not in body:
        raise RuntimeError(f"unexpected answer: {head!r} {body[:300]!r}")


async def _load(port: int, request: bytes, calls: int, concurrency: int, seconds: float) -> Phase:
    """``calls`` calls over ``concurrency`` connections, or fewer if ``seconds`` run out."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(concurrency)]
    for reader, writer in connections:  # warm each connection once
        await _call(reader, writer, request)
    started = time.perf_counter()
    deadline = started + seconds
    finished: list[float] = []
    latencies: list[float] = []
    left = calls

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            sent = time.perf_counter()
            await _call(reader, writer, request)
            done = time.perf_counter()
            latencies.append((done - sent) * 1000)
            finished.append(done - started)

    try:
        await asyncio.gather(*(client(reader, writer) for reader, writer in connections))
    finally:
        for _, writer in connections:
            writer.close()
    answered, busy_seconds = busy_window(finished, concurrency)
    return Phase(len(finished), answered / busy_seconds, statistics.median(latencies))


@dataclass(frozen=True)
class Phase:
    calls: int
    calls_per_second: float
    p50_ms: float
    cpu_ms_per_call: float = 0.0
    loop_ms_per_call: float = 0.0


@dataclass
class Server:
    label: str
    pid: int
    port: int
    request: bytes
    phases: list[Phase] = field(default_factory=list)

    def measure(self, calls: int, concurrency: int, seconds: float) -> Phase:
        before, loop_before = cpu_seconds(self.pid), loop_thread_seconds(self.pid)
        phase = asyncio.run(_load(self.port, self.request, calls, concurrency, seconds))
        time.sleep(0.3)  # let work that follows the answers (ours: the charge) finish
        calls_made = phase.calls + concurrency
        cpu = (cpu_seconds(self.pid) - before) / calls_made * 1000
        loop = (loop_thread_seconds(self.pid) - loop_before) / calls_made * 1000
        return Phase(phase.calls, phase.calls_per_second, phase.p50_ms, cpu, loop)


@contextlib.contextmanager
def bare_server(image: bytes) -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app"),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--no-access-log", "--log-level", "warning"),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2)
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the bare server did not start")
            time.sleep(0.2)
        yield Server("bare FastAPI endpoint", process.pid, port, caption_request(port, "", image))
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def our_server(
    image: bytes,
    database_url: str | None,
    per_minute: int | None,
    source: Path | None = None,
    label: str = "ours, answered from the cache",
) -> Iterator[Server]:
    """``source``: a checkout whose ``src`` the server imports instead of this one's."""
    extra_env = None if source is None else {"PYTHONPATH": str(source.resolve() / "src")}
    with tempfile.TemporaryDirectory() as folder:
        config = "read_text = false\n"
        if database_url:
            config += f'database_url = "{database_url}"\n'
        config += f"[plans.{PLAN}]\nmonthly_credits = 1000000000\n"
        if per_minute:
            config += f"requests_per_minute = {per_minute}\n"
        with run_server(Path(folder), config, extra_env=extra_env) as server:
            key = server.create_key(PLAN)
            port = int(server.url.rsplit(":", 1)[1])
            first = httpx.post(
                server.url + "/v1/imagecaption",
                headers={"X-API-Key": key},
                files={"image": ("p.jpg", image)},
                timeout=120,
            )
            first.raise_for_status()  # the one call that reaches the model; the rest are cached
            yield Server(
                label,
                server.process.pid,
                port,
                caption_request(port, key, image),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1500, help="calls per phase, at most")
    parser.add_argument("--seconds", type=float, default=15, help="time per phase, at most")
    parser.add_argument("--rounds", type=int, default=5, help="alternations between servers")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", help="ours on this database instead of SQLite")
    parser.add_argument(
        "--per-minute", type=int, help="rate-limit the key's plan (unthrottled if left out)"
    )
    parser.add_argument(
        "--other-source", type=Path, help="also run ours from this checkout (its src folder)"
    )
    parser.add_argument("--other-label", default="ours, other code")
    args = parser.parse_args()
    image = small_jpeg()
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(bare_server(image)),
            stack.enter_context(our_server(image, args.database_url, args.per_minute)),
        ]
        if args.other_source:
            servers.append(
                stack.enter_context(
                    our_server(
                        image,
                        args.database_url,
                        args.per_minute,
                        args.other_source,
                        args.other_label,
                    )
                )
            )
        for server in servers:  # warm-up, not counted
            server.measure(min(args.calls, 200), args.concurrency, args.seconds)
        for index in range(args.rounds):  # each server first in turn
            shift = index % len(servers)
            for server in servers[shift:] + servers[:shift]:
                server.phases.append(server.measure(args.calls, args.concurrency, args.seconds))
        report(servers, args, len(image))


def report(servers: list[Server], args: argparse.Namespace, image_bytes: int) -> None:
    bare, others = servers[0], servers[1:]
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{os.cpu_count()} cores, image {image_bytes} bytes, concurrency {args.concurrency}, "
        f"{args.rounds} rounds of at most {args.calls} calls or {args.seconds:g} s per server, "
        f"ours on {database}"
    )
    print("calls/s per round: " + " | ".join(server.label for server in servers))
    for index in range(args.rounds):
        print(
            f"{index + 1:5d} | "
            + " | ".join(f"{server.phases[index].calls_per_second:6.0f}" for server in servers)
        )
    bare_cpu = statistics.median(p.cpu_ms_per_call for p in bare.phases)
    for server in servers:
        rate = statistics.median(p.calls_per_second for p in server.phases)
        p50 = statistics.median(p.p50_ms for p in server.phases)
        cpu = statistics.median(p.cpu_ms_per_call for p in server.phases)
        loop = statistics.median(p.loop_ms_per_call for p in server.phases)
        print(
            f"{server.label:<32} {rate:6.0f} calls/s  p50 {p50:6.1f} ms  "
            f"server CPU {cpu:5.2f} ms/call ({loop:.2f} on the event loop's thread)"
        )
    for server in others:
        ratios = [
            o.calls_per_second / b.calls_per_second
            for b, o in zip(bare.phases, server.phases, strict=True)
        ]
        cpu = statistics.median(p.cpu_ms_per_call for p in server.phases)
        print(
            f"{server.label} / bare: calls/s {statistics.median(ratios):.2f} (median of the "
            f"rounds' ratios), server CPU per call {cpu / bare_cpu:.2f}"
        )


if __name__ == "__main__":
    main()

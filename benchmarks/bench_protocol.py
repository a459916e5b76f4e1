"""What the connection limits cost an ordinary request: uvicorn's httptools protocol as it
ships against the server's (``api/protocol.py``), side by side.

Both serve the same minimal ASGI app (a fixed 15-byte answer, so that only the protocol differs)
from their own process on loopback, with the default limits; one client sends keep-alive
``GET`` requests with 20 ordinary header fields over one connection, and a second client opens a
new connection per request. The two servers are measured in alternating rounds so that both see
the same machine; printed: the median over the rounds of the wall time per request and of the
server process's CPU time per request (user and system, from /proc: less disturbed than the
wall time by other work on a shared machine), and their ratios. Linux only.

    python -m benchmarks.bench_protocol [--requests 2000] [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.server import free_port

SERVER = """
import sys, uvicorn
from imagecaption.api import connections
from imagecaption.api.protocol import EnvelopeHttpToolsProtocol
from imagecaption.settings import Settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})

connections.configure(Settings())
protocol = EnvelopeHttpToolsProtocol if sys.argv[1] == "limited" else HttpToolsProtocol
uvicorn.run(app, port=int(sys.argv[2]), http=protocol, log_level="warning", access_log=False,
            lifespan="off")
"""
HEADERS = b"".join(b"X-Header-%d: value %d of an ordinary size\r\n" % (n, n) for n in range(18))
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n" + HEADERS + b"\r\n"
ANSWER_END = b'{"status":"ok"}'


def start(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, kind, str(port)])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def read_answer(sock: socket.socket) -> None:
    answer = b""
    while not answer.endswith(ANSWER_END):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        answer += chunk


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def keep_alive_round(port: int, requests: int) -> float:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        for _ in range(requests):
            sock.sendall(REQUEST)
            read_answer(sock)
        return (time.perf_counter() - started) / requests * 1e6


def new_connection_round(port: int, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(REQUEST)
            read_answer(sock)
    return (time.perf_counter() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    servers = {kind: start(kind) for kind in ("uvicorn", "limited")}
    try:
        print(f"cores: {os.cpu_count()}, {args.requests} requests per round, {args.rounds} rounds")
        print(
            "| client | wall us/request: uvicorn's protocol | with the limits | ratio "
            "| server CPU us/request: uvicorn's protocol | with the limits | ratio |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, measure in (
            ("keep-alive", keep_alive_round),
            ("a connection per request", new_connection_round),
        ):
            wall: dict[str, list[float]] = {kind: [] for kind in servers}
            cpu: dict[str, list[float]] = {kind: [] for kind in servers}
            for _ in range(args.rounds):
                for kind, (process, port) in servers.items():
                    before = cpu_seconds(process.pid)
                    wall[kind].append(measure(port, args.requests))
                    cpu[kind].append((cpu_seconds(process.pid) - before) / args.requests * 1e6)
            cells = []
            for figures in (wall, cpu):
                plain = statistics.median(figures["uvicorn"])
                limited = statistics.median(figures["limited"])
                cells += [f"{plain:.0f}", f"{limited:.0f}", f"{limited / plain:.2f}"]
            print(f"| {name} | {' | '.join(cells)} |")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()

"""What two floods of connections cost a real server: endless headers, and silent connections.

1. Endless headers, in two shapes: one header whose value never ends, and header lines that
   never end. ``--flooders`` clients each send a request line and such a head, as fast as
   loopback takes it, for ``--seconds``; a client that is cut off connects again, one that has
   sent as much as its shape allows (``SHAPES``) gives up. Printed, each shape on a fresh server:
   its RSS idle, at its peak (VmHWM) and two seconds after the clients left, and how many
   connections the server cut off.
2. Silent connections: a server whose process may open ``--descriptors`` files (soft and hard
   ``RLIMIT_NOFILE``) gets ``--silent`` connections that send nothing; then one real caption
   call is made. Printed: its status and time, the descriptors the server holds, and whether the
   log says anything about it.

Linux only (it reads /proc). Loopback only; under a minute. Run it from a checkout to measure
that checkout's server:

    python -m benchmarks.bench_connection_floods [--flooders 8] [--seconds 6] [--silent 1100]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.conftest import encode, photo
from tests.e2e.memory import peak_rss_mb, reset_peak, rss_mb
from tests.e2e.server import RunningServer, run_server

CONFIG = """
log_level = "WARNING"
cache_size = 0
"""


def _address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


SHAPES = {
    "one endless value": (b"X-Flood: ", b"a" * 65536, 128 * 2**20),
    "endless header lines": (b"", b"X-F: 1\r\n" * 8192, 32 * 2**20),
}
"""Each shape: how the head starts, what repeats, and how much one client sends at most."""


def endless_headers(
    server: RunningServer, shape: str, deadline: float, cut_off: list[int], sent_total: list[int]
) -> None:
    start, chunk, limit = SHAPES[shape]
    while time.monotonic() < deadline:
        with socket.create_connection(_address(server), timeout=2) as sock:
            sent = 0
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n" + start)
                while time.monotonic() < deadline and sent < limit:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                cut_off.append(sent)
            except TimeoutError:
                pass
            sent_total.append(sent)
            if sent >= limit:
                return


def header_flood(shape: str, flooders: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), CONFIG) as server:
        pid = server.process.pid
        time.sleep(1)
        idle = rss_mb(pid)
        reset_peak(pid)
        cut_off: list[int] = []
        sent: list[int] = []
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=endless_headers, args=(server, shape, deadline, cut_off, sent))
            for _ in range(flooders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = peak_rss_mb(pid)
        time.sleep(2)
        after = rss_mb(pid)
        healthy = httpx.get(server.url + "/healthz", timeout=30).status_code
        print(
            f"{shape}, {flooders} clients for {seconds:g} s: RSS idle {idle:.0f} MB, "
            f"peak {peak:.0f} MB, 2 s after {after:.0f} MB; {sum(sent) / 2**20:.0f} MB sent "
            f"over {len(sent)} connections, {len(cut_off)} cut off by the server; "
            f"/healthz after: {healthy}"
        )


def silent_connections(count: int, descriptors: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    os.environ["RLIMIT_NOFILE"] = str(descriptors)
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_server(Path(tmp), CONFIG, launcher="tests.e2e.few_descriptors_serve") as server,
    ):
        key = server.create_key("pro")
        image = encode(photo("chelsea"))
        log_before = len(server.logs())
        sockets = [socket.create_connection(_address(server), timeout=5) for _ in range(count)]
        try:
            time.sleep(1)
            held = len(list(Path(f"/proc/{server.process.pid}/fd").iterdir()))
            started = time.perf_counter()
            try:
                response = httpx.post(
                    server.url + "/v1/imagecaption",
                    headers={"X-API-Key": key},
                    files={"image": ("cat.jpg", image, "image/jpeg")},
                    timeout=30,
                )
                outcome = f"{response.status_code} {response.text[:80]}"
            except httpx.HTTPError as error:
                outcome = f"{type(error).__name__}"
            seconds = time.perf_counter() - started
            time.sleep(0.5)
            logged = server.logs()[log_before:].strip().splitlines()
        finally:
            for sock in sockets:
                sock.close()
        print(
            f"{count} silent connections, RLIMIT_NOFILE {descriptors}: {held} descriptors held; "
            f"a caption call: {outcome} in {seconds:.2f} s; log lines since: {len(logged)}"
        )
        for line in logged[:3]:
            print("   ", line[:300])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flooders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--silent", type=int, default=1100)
    parser.add_argument("--descriptors", type=int, default=1024)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    for shape in SHAPES:
        header_flood(shape, args.flooders, args.seconds)
    silent_connections(args.silent, args.descriptors)


if __name__ == "__main__":
    main()

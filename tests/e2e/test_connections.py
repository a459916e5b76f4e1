"""Connections cannot exhaust the server: heads bounded in size, count and time, connections in
number, and memory given back once a flood is over.

Each test failed before the limits: a header that never ended grew the server by gigabytes; a
1 MB header, 10,000 headers and a 9 KB URL were answered 200; a connection that sent nothing, or
its headers a byte at a time, stayed open for as long as the client liked; an idle keep-alive
connection was kept for uvicorn's fixed 5 s; with its descriptors used up by silent connections
the server failed every real call and logged nothing. Everything runs on loopback, bounded in
count and time.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import encode, photo
from tests.e2e.few_descriptors_serve import DESCRIPTORS
from tests.e2e.memory import LINUX, peak_rss_mb, reset_peak, rss_mb
from tests.e2e.server import REPO_ROOT, RunningServer, run_server

pytestmark = pytest.mark.skipif(not LINUX, reason="reads memory and descriptors from /proc")

HEADER_TIMEOUT = 2.0
KEEP_ALIVE = 1.0
MAX_CONNECTIONS = 16
CONFIG = f"""
log_level = "INFO"
cache_size = 0
header_read_timeout_seconds = {HEADER_TIMEOUT}
keep_alive_timeout_seconds = {KEEP_ALIVE}
max_connections = {MAX_CONNECTIONS}
body_read_timeout_seconds = 6

[plans.pro]
monthly_credits = 10000000
"""
RESERVED = 64
FEW_DESCRIPTORS_CONFIG = f"""
log_level = "INFO"
reserved_descriptors = {RESERVED}

[plans.pro]
monthly_credits = 10000000
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own: short timeouts, few connections, and memory that is its own."""
    with run_server(Path(tmp_path_factory.mktemp("connections")), CONFIG) as running:
        yield running


def address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took; fails the test if
    the connection is still open after ``limit`` seconds."""
    started = time.monotonic()
    sock.settimeout(limit)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {limit} s")
    except ConnectionResetError:
        pass
    return b"".join(chunks), time.monotonic() - started


def exchange(server: RunningServer, request: bytes, limit: float = 15) -> bytes:
    with socket.create_connection(address(server), timeout=limit) as sock:
        sock.sendall(request)
        return read_until_closed(sock, limit)[0]


def assert_enveloped(answer: bytes, status: int, fragment: str) -> dict[str, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), lines[0]
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    envelope = json.loads(body)
    assert envelope["status"] == "error"
    assert envelope["data"] is None
    assert fragment in envelope["error"], envelope["error"]
    return headers


def wait_for_log(server: RunningServer, fragment: str, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while fragment not in server.logs():
        if time.monotonic() > deadline:
            pytest.fail(f"{fragment!r} not in the server's log")
        time.sleep(0.1)


# Heads too large, too many, too long: refused as they arrive.


TOO_LARGE = ("header fields are too large", "requests answered 431 (headers too large)")
TOO_MANY = ("too many header fields", "requests answered 431 (too many headers)")


@pytest.mark.parametrize(
    ("request_head", "refusal"),
    [
        (b"X-Large: " + b"a" * 1_000_000 + b"\r\n", TOO_LARGE),
        (b"X-Large: " + b"a" * 40_000 + b"\r\n", TOO_LARGE),
        (b"".join(b"X-Many-%d: 1\r\n" % n for n in range(10_000)), TOO_MANY),
        (b"".join(b"X-Some-%d: 1\r\n" % n for n in range(101)), TOO_MANY),
    ],
    ids=["one 1 MB header", "one 40 KB header", "10,000 headers", "101 headers"],
)
def test_oversized_heads_are_431(
    server: RunningServer, request_head: bytes, refusal: tuple[str, str]
) -> None:
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + request_head + b"\r\n")
    assert_enveloped(answer, 431, refusal[0])
    wait_for_log(server, refusal[1])


def test_a_long_url_is_414(server: RunningServer) -> None:
    answer = exchange(server, b"GET /healthz?pad=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_enveloped(answer, 414, "too long")


def test_heads_within_the_limits_are_served(server: RunningServer) -> None:
    headers = b"".join(b"X-Some-%d: %s\r\n" % (n, b"v" * 200) for n in range(90))
    url = b"/healthz?pad=" + b"a" * 8000
    answer = exchange(
        server, b"GET " + url + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers + b"\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


# Time: silent connections, headers sent slowly, idle keep-alive.


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    server: RunningServer,
) -> None:
    with socket.create_connection(address(server)) as sock:
        answer, seconds = read_until_closed(sock, HEADER_TIMEOUT + 5)
    assert answer == b""  # nothing was asked, so nothing is answered
    assert HEADER_TIMEOUT - 0.5 < seconds < HEADER_TIMEOUT + 3


def test_headers_sent_a_byte_at_a_time_get_408_at_the_header_timeout(
    server: RunningServer,
) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 100
    started = time.monotonic()
    with socket.create_connection(address(server), timeout=1) as sock:
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if time.monotonic() - started > HEADER_TIMEOUT + 5:
                pytest.fail("the server still read slow headers after the header timeout")
            time.sleep(0.1)
        answer, _ = read_until_closed(sock, HEADER_TIMEOUT + 5)
    assert_enveloped(answer, 408, "did not arrive within 2 seconds")
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(
    server: RunningServer,
) -> None:
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = b""
        while b'{"status":"ok"}' not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 ")
        rest, seconds = read_until_closed(sock, KEEP_ALIVE + 5)
    assert rest == b""
    assert seconds < KEEP_ALIVE + 1.5


# Memory: a flood of endless headers.

FLOOD_SECONDS = 4
FLOOD_CONNECTIONS = 4
PEAK_GROWTH_MB = 40
KEPT_MB = 20
# Two shapes of a head that never ends, each with what one client sends before it gives up:
# one header whose value goes on (the parser keeps it, copied at every read), and header lines
# that go on (each line became two Python objects: over ten times its size).
FLOODS = {
    "one endless value": (b"X-Flood: ", b"a" * 65536, 64 * 2**20),
    "endless header lines": (b"", b"X-F: 1\r\n" * 8192, 8 * 2**20),
}


def flood_endless_headers(
    server: RunningServer, shape: str, deadline: float, cut_off: list[int]
) -> None:
    """Send a head that never ends, as fast as loopback takes it; when the server cuts the
    connection, start another, until the deadline."""
    start, chunk, most = FLOODS[shape]
    while time.monotonic() < deadline:
        with socket.create_connection(address(server), timeout=1) as sock:
            sent = 0
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + start)
                while time.monotonic() < deadline and sent < most:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                cut_off.append(sent)
            except TimeoutError:  # the server stopped reading without closing
                return


@pytest.mark.parametrize("shape", list(FLOODS))
def test_a_flood_of_endless_headers_keeps_memory_bounded_and_gives_it_back(
    server: RunningServer, shape: str
) -> None:
    pid = server.process.pid
    time.sleep(0.5)
    before = rss_mb(pid)
    reset_peak(pid)
    cut_off: list[int] = []
    deadline = time.monotonic() + FLOOD_SECONDS
    threads = [
        threading.Thread(target=flood_endless_headers, args=(server, shape, deadline, cut_off))
        for _ in range(FLOOD_CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=FLOOD_SECONDS + 30)
    peak = peak_rss_mb(pid)
    time.sleep(1)
    after = rss_mb(pid)
    print(
        f"{shape}: RSS before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB; "
        f"{len(cut_off)} connections cut off"
    )
    assert peak - before < PEAK_GROWTH_MB, f"RSS {before:.0f} MB before, peak {peak:.0f} MB"
    assert after - before < KEPT_MB, f"RSS {before:.0f} MB before, {after:.0f} MB after"
    assert cut_off, "the server never cut an endless head off"
    # What a client got written before it was cut off includes what the kernel's socket
    # buffers took in on both sides (a few MB on loopback), never what the server kept.
    assert max(cut_off) < 16 * 2**20, "a head went on for tens of megabytes"
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


# Connections in number.


def test_when_every_connection_is_busy_a_new_one_gets_503_and_it_is_logged(
    server: RunningServer,
) -> None:
    key = server.create_key("pro")
    busy = []
    try:
        # Requests whose bodies stall: their headers are complete, so they are being answered
        # (until the body timeout) and are never closed to make room.
        for _ in range(MAX_CONNECTIONS):
            sock = socket.create_connection(address(server), timeout=10)
            busy.append(sock)
            sock.sendall(
                b"POST /v1/imagecaption HTTP/1.1\r\nHost: test\r\nX-API-Key: "
                + key.encode()
                + b"\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\nabc"
            )
        time.sleep(0.5)
        answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n", limit=10)
        headers = assert_enveloped(answer, 503, "connection limit")
        assert headers["retry-after"] == "1"
        wait_for_log(server, "connections refused with 503 (every connection busy")
    finally:
        for sock in busy:
            sock.close()


@pytest.fixture(scope="module")
def few_descriptors_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(
        Path(tmp_path_factory.mktemp("few-descriptors")),
        FEW_DESCRIPTORS_CONFIG,
        launcher="tests.e2e.few_descriptors_serve",
    ) as running:
        yield running


def launcher_path() -> str:
    """PYTHONPATH for a test launcher run with ``python -m``, as ``run_server`` sets it."""
    return os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))


def open_descriptors(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def test_more_silent_connections_than_descriptors_leave_real_calls_served(
    few_descriptors_server: RunningServer,
) -> None:
    server = few_descriptors_server
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * DESCRIPTORS + 150:  # this process holds the client ends
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * DESCRIPTORS + 150), hard))
    key = server.create_key("pro")
    image = encode(photo("chelsea"))
    silent = []
    try:
        for _ in range(DESCRIPTORS + 150):
            silent.append(socket.create_connection(address(server), timeout=5))
        time.sleep(1)
        descriptors = open_descriptors(server.process.pid)
        with httpx.Client(timeout=20) as client:
            response = client.post(
                server.url + "/v1/imagecaption",
                headers={"X-API-Key": key},
                files={"image": ("cat.jpg", image, "image/jpeg")},
            )
        print(f"{descriptors} descriptors open of {DESCRIPTORS} with {len(silent)} connections")
        assert response.status_code in (200, 503), response.text
        assert response.json()["status"] == ("ok" if response.status_code == 200 else "error")
        assert descriptors < DESCRIPTORS - 8, "the server used up its descriptors"
        wait_for_log(server, "waiting connections closed to make room for new ones")
        assert f"holds at most {DESCRIPTORS - RESERVED} connections" in server.logs()
    finally:
        for sock in silent:
            sock.close()


# At start: the connection limit against the descriptor limit.


def test_serve_says_in_one_line_when_descriptors_leave_no_room_for_connections(
    tmp_path: Path,
) -> None:
    """With the default 256 descriptors reserved, a process limited to 200 could hold no
    connection at all; it used to start and fail its calls."""
    command = ["serve", "--port", "0", "--data-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.few_descriptors_serve", *command],
        env={**os.environ, "RLIMIT_NOFILE": "200", "PYTHONPATH": launcher_path()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "may open 200 files" in lines[0]
    assert "reserved_descriptors" in lines[0]


def test_a_low_soft_descriptor_limit_is_raised_towards_the_hard_one() -> None:
    script = (
        "import resource\n"
        "from imagecaption.api.connections import connection_budget\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (100, hard))\n"
        "budget = connection_budget(400, 50)\n"
        "print(budget, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    budget, soft, hard = (int(word) for word in output.split())
    if hard != resource.RLIM_INFINITY and hard < 450:
        pytest.skip(f"the hard descriptor limit here is {hard}")
    assert (budget, soft) == (400, 450)

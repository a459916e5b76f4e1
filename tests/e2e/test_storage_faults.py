"""Faults under the SQLite store: a full disk, a lock held by another process, a SIGKILL.

While a fault lasts, calls are answered 503 with Retry-After (or succeed, where SQLite still
has room to write) and never 500; nobody pays for a call that failed; the server recovers by
itself when the fault ends; and afterwards the ledger adds up: the balance is the allowance
less 10 credits for each recorded success, and no reservation is left behind.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from tests.e2e.server import RunningServer, run_server
from tests.replicas.cluster import assert_books_balance, distinct_image, wait_until_no_reservation

pytestmark = pytest.mark.slow

TTL_SECONDS = 2
CONFIG = f"""
log_level = "WARNING"
cache_size = 0
reservation_ttl_seconds = {TTL_SECONDS}
"""
DISK_MB = 24
LOCK_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The server's data directory, on a small tmpfs of its own when mounting is allowed."""
    folder = Path(tmp_path_factory.mktemp("storage"))
    mounted = os.geteuid() == 0 and sys.platform.startswith("linux")
    if mounted:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(folder)], check=True
        )
    try:
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[RunningServer]:
    with run_server(data_dir, CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'imagecaption.db'}"


def caption(server: RunningServer, key: str, image: bytes, timeout: float = 90) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/imagecaption",
        headers={"X-API-Key": key},
        files={"image": ("i.jpg", image)},
        timeout=timeout,
    )


def assert_failed_clearly(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["status"] == "error"
    assert int(response.headers["Retry-After"]) >= 1


def recovered(server: RunningServer, key: str, image: bytes, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if caption(server, key, image).status_code == 200:
            return True
        time.sleep(0.5)
    return False


def _write_until_it_fails(handle: BinaryIO, block: bytes) -> int | None:
    try:
        while True:
            handle.write(block)
    except OSError as error:
        return error.errno


def fill(folder: Path) -> Path:
    """Write a file until the disk under ``folder`` is full (in big blocks, then in pages)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for block in (bytes(1 << 20), bytes(4096)):
            assert _write_until_it_fails(handle, block) == errno.ENOSPC
    return filler


def traffic_until_killed(server: RunningServer, key: str, workers: int) -> list[int]:
    """``workers`` clients sending distinct images back to back until the server is gone;
    0 is a call cut off in flight."""
    codes: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for sent in range(10_000):
            try:
                status = caption(server, key, distinct_image(worker * 10_000 + sent)).status_code
            except httpx.TransportError:
                status = 0
            with lock:
                codes.append(status)
            if status == 0:
                return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    for thread in threads:
        thread.join(60)
    return codes


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_answers_503_charges_nobody_and_recovers(
    server: RunningServer, data_dir: Path, database_url: str
) -> None:
    key, key_id = server.create_key_with_id("pro")
    delivered = 0
    assert caption(server, key, distinct_image(1)).status_code == 200
    delivered += 1
    filler = fill(data_dir)
    try:
        during = [caption(server, key, distinct_image(100 + i)) for i in range(12)]
    finally:
        filler.unlink()
    codes = [response.status_code for response in during]
    assert set(codes) <= {200, 503}, codes
    assert 503 in codes, f"the full disk never showed: {codes}"
    for response in during:
        if response.status_code == 503:
            assert_failed_clearly(response)
    delivered += codes.count(200)
    assert recovered(server, key, distinct_image(2))
    delivered += 1
    wait_until_no_reservation(database_url, key_id, TTL_SECONDS * 5 + 5)
    # An answer whose charge the full disk refused after it was sent is free, never the reverse.
    assert_books_balance(database_url, key_id, delivered, may_be_free=codes.count(200))


def test_a_database_locked_by_another_process_answers_503_and_recovers(
    server: RunningServer, database_url: str, data_dir: Path
) -> None:
    """SQLite waits up to its busy timeout (30 s) for the lock, then the call is a 503."""
    key, key_id = server.create_key_with_id("pro")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(data_dir / "imagecaption.db"), "40"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        response = caption(server, key, distinct_image(3))
        assert_failed_clearly(response)
        assert time.monotonic() - started < 38, "the 503 must come before the lock is released"
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(10)
    assert recovered(server, key, distinct_image(4))
    wait_until_no_reservation(database_url, key_id, TTL_SECONDS * 5 + 5)
    assert_books_balance(database_url, key_id, delivered=1)


def test_sigkill_in_a_burst_loses_and_doubles_no_credit(
    server: RunningServer, data_dir: Path, database_url: str
) -> None:
    """Killed while 8 clients are sending; restarted on the same files, the janitor refunds
    what the dead process had reserved: nobody paid for a call cut off, and at most the 8
    answers in flight at the kill went unpaid."""
    key, key_id = server.create_key_with_id("pro")
    codes = traffic_until_killed(server, key, workers=8)
    assert codes.count(0) > 0, codes  # some calls were cut off in flight
    assert codes.count(200) > 0, codes
    assert set(codes) <= {0, 200}, codes
    with run_server(data_dir, CONFIG) as restarted:
        wait_until_no_reservation(database_url, key_id, TTL_SECONDS * 5 + 10)
        assert_books_balance(database_url, key_id, codes.count(200), may_be_free=8)
        assert caption(restarted, key, distinct_image(5)).status_code == 200

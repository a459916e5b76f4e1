"""Credits held by calls in flight: refused calls hold none, and nobody pays for an answer
they did not get.

A call takes its place in the model's queue before it reserves credits, so a burst larger than
the queue is refused with 503 without taking credits that the calls behind it then lack; the
charge is committed only after the answer was handed to the connection, so a server killed in
between charges nothing once its reservation is refunded; and a client that hung up before its
answer is not charged.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.held_answer_serve import HELD
from tests.e2e.server import RunningServer, run_server
from tests.replicas.cluster import (
    balance,
    charged_calls,
    distinct_image,
    query,
    wait_until_no_reservation,
)

pytestmark = pytest.mark.slow

START_CREDITS = 1500
COST = 10
QUEUE_SIZE = 2
MAX_BATCH = 1
BURST = 200
TTL_SECONDS = 2
CONFIG = f"""
model = "offline"
log_level = "WARNING"
cache_size = 0
queue_size = {QUEUE_SIZE}
max_batch_size = {MAX_BATCH}
reservation_ttl_seconds = {{ttl}}

[plans.burst]
monthly_credits = {START_CREDITS}
cost_per_call = {COST}
"""
BURST_CONFIG = CONFIG.format(ttl=120)  # no reservation expires during the burst
CRASH_CONFIG = CONFIG.format(ttl=TTL_SECONDS)
LEFT = re.compile(r"the key has (\d+) left")


def database_url(server: RunningServer) -> str:
    return f"sqlite:///{server.data_dir / 'imagecaption.db'}"


async def _burst(url: str, key: str, images: list[bytes]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(images))
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        calls = [
            client.post(
                url + "/v1/imagecaption",
                headers={"X-API-Key": key},
                files={"image": ("i.jpg", image)},
            )
            for image in images
        ]
        return list(await asyncio.gather(*calls))


def test_a_burst_over_the_queue_holds_no_credits(tmp_path: Path) -> None:
    """200 distinct images at once on a key with 1,500 credits and a queue of 2: the calls the
    queue refuses never reserve, so no call is refused for credits that only refused calls held,
    and afterwards the balance plus what was charged is what the key started with."""
    images = [distinct_image(seed) for seed in range(BURST)]
    with run_server(tmp_path / "burst", BURST_CONFIG) as server:
        key, key_id = server.create_key_with_id("burst")
        responses = asyncio.run(_burst(server.url, key, images))
        codes = [response.status_code for response in responses]
        assert set(codes) <= {200, 403, 503}, codes
        assert 503 in codes, f"a burst of {BURST} must overflow a queue of {QUEUE_SIZE}"
        for response in responses:
            if response.status_code == 403:
                said = LEFT.search(response.json()["error"])
                assert said is not None, response.text
                assert said.group(1) == response.headers["x-api-remaining-tokens"], (
                    "a 403 must not contradict its own remaining-tokens header"
                )
        url = database_url(server)
        wait_until_no_reservation(url, key_id, 30)  # charges are committed after the answers
        charged = charged_calls(url, key_id)
        left, allowance = balance(url, key_id)
        assert allowance == START_CREDITS
        assert charged == codes.count(200), "every answer is charged once, nothing else is"
        assert left + COST * charged == START_CREDITS
        # At most queue + batch calls hold credits at once, so a 403 means the key really ran out.
        if 403 in codes:
            assert left < COST * (QUEUE_SIZE + MAX_BATCH + 1), (codes.count(403), left)


def test_a_crash_before_the_answer_is_sent_charges_nothing(tmp_path: Path) -> None:
    """Killed with SIGKILL when an answer is ready but not yet sent: the customer never got it,
    so once the restarted server refunds the reservation, the key has all its credits."""
    data_dir = tmp_path / "crash"
    with run_server(data_dir, CRASH_CONFIG, launcher="tests.e2e.held_answer_serve") as server:
        key, key_id = server.create_key_with_id("burst")
        outcome: dict[str, object] = {}

        def call() -> None:
            try:
                outcome["status"] = httpx.post(
                    server.url + "/v1/imagecaption",
                    headers={"X-API-Key": key},
                    files={"image": ("i.jpg", distinct_image(1))},
                    timeout=60,
                ).status_code
            except httpx.TransportError as error:
                outcome["error"] = error

        client = threading.Thread(target=call)
        client.start()
        deadline = time.monotonic() + 60
        while HELD not in server.logs():
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        client.join(30)
        assert "error" in outcome, f"the answer must not have arrived: {outcome}"
    url = f"sqlite:///{data_dir / 'imagecaption.db'}"
    with run_server(data_dir, CRASH_CONFIG):
        wait_until_no_reservation(url, key_id, TTL_SECONDS * 5 + 10)
        assert charged_calls(url, key_id) == 0
        assert balance(url, key_id) == (START_CREDITS, START_CREDITS)
        statuses = query(url, "SELECT status FROM usage WHERE key_id = :key", key=key_id)
        assert statuses == [], "an answer that was never sent is not a call that succeeded"


def multipart_request(host: str, key: str, request_id: str, image: bytes) -> bytes:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="i.jpg"\r\n\r\n'
        + image
        + b"\r\n--b--\r\n"
    )
    head = (
        f"POST /v1/imagecaption HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
        f"X-Request-ID: {request_id}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)


def test_a_client_that_hangs_up_before_its_answer_pays_nothing(tmp_path: Path) -> None:
    """A client sends its image and hangs up while the model waits 3 s to fill a batch: it
    never gets the answer, so it is not charged, and the call is recorded as 499."""
    config = BURST_CONFIG.replace(
        f"max_batch_size = {MAX_BATCH}", "max_batch_size = 8\nmax_batch_wait_ms = 3000"
    )
    with run_server(tmp_path / "gone", config) as server:
        key, key_id = server.create_key_with_id("burst")
        url = database_url(server)
        host, port = server.url.removeprefix("http://").split(":")
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=30) as hung_up:
            hung_up.sendall(multipart_request(host, key, "hung-up-1", distinct_image(999)))
            held = "SELECT 1 FROM reservations WHERE key_id = :key"
            wait_for(lambda: bool(query(url, held, key=key_id)), "the call never reserved")
            time.sleep(0.3)  # its image was read before it reserved; the batch waits 3 s
            hung_up.shutdown(socket.SHUT_RDWR)
        assert time.monotonic() - started < 2.5, "hung up too late to be sure it was in time"
        wait_for(lambda: bool(query(url, "SELECT 1 FROM usage")), "the call was never recorded")
        wait_until_no_reservation(url, key_id, 30)
        recorded = query(url, "SELECT status, credits FROM usage WHERE key_id = :key", key=key_id)
        assert recorded == [(499, 0)], recorded
        assert balance(url, key_id) == (START_CREDITS, START_CREDITS)

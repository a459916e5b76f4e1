"""Overload, graceful shutdown and the local caption command, each against its own process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import encode, photo
from tests.e2e.server import run_server

ENDPOINT = "/v1/imagecaption"
PLANS = """
[plans.pro]
monthly_credits = 1000000
"""


def test_full_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    config = "queue_size = 1\nmax_batch_size = 1\nretry_after_seconds = 2\n" + PLANS
    images = [encode(photo("astronaut").rotate(i)) for i in range(40)]
    with run_server(tmp_path / "busy", config) as server:
        key = server.create_key("pro")

        def call(image: bytes) -> httpx.Response:
            return httpx.post(
                server.url + ENDPOINT,
                headers={"X-API-Key": key},
                files={"image": ("a", image)},
                timeout=120,
            )

        with ThreadPoolExecutor(max_workers=40) as pool:
            responses = list(pool.map(call, images))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        busy = [r for r in responses if r.status_code == 503]
        assert busy, "40 concurrent images and a queue of 1 must overflow"
        assert busy[0].headers["Retry-After"] == "2"
        assert "busy" in busy[0].json()["error"]
        succeeded = statuses.count(200)
        record = json.loads(server.cli("keys", "list", "--json"))[0]
        assert record["used"] == succeeded * 10, "only successful calls are charged"


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    with run_server(tmp_path / "graceful", PLANS) as server:
        key = server.create_key("pro")
        image = encode(photo("chelsea"))
        head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="c.jpg"\r\n\r\n'
        started = threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield head
            started.set()
            time.sleep(1.5)  # SIGTERM lands while the request is still arriving
            yield image
            yield b"\r\n--b--\r\n"

        result: dict[str, httpx.Response] = {}

        def call() -> None:
            result["response"] = httpx.post(
                server.url + ENDPOINT,
                headers={"X-API-Key": key, "Content-Type": "multipart/form-data; boundary=b"},
                content=slow_body(),
                timeout=60,
            )

        worker = threading.Thread(target=call)
        worker.start()
        assert started.wait(10)
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        worker.join(60)
        assert result["response"].status_code == 200, result["response"].text
        # uvicorn re-raises the signal once it has shut down cleanly
        assert server.process.wait(30) in (0, -signal.SIGTERM)
        assert "stopped" in server.logs()


def test_caption_command_for_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(encode(photo("chelsea")))
    (folder / "coffee.png").write_bytes(encode(photo("coffee"), "PNG"))
    (folder / "notes.txt").write_text("not an image")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagecaption",
            "caption",
            str(folder),
            "--json",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr  # one file was not an image
    rows = {Path(row["file"]).name: row for row in map(json.loads, result.stdout.splitlines())}
    assert "cat" in rows["cat.jpg"]["caption"].lower()
    assert rows["coffee.png"]["caption"]
    assert rows["notes.txt"]["caption"] is None
    assert "accepted types" in rows["notes.txt"]["error"].lower()
    plain = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagecaption",
            "caption",
            str(folder / "cat.jpg"),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert plain.stdout.startswith(str(folder / "cat.jpg") + ": ")

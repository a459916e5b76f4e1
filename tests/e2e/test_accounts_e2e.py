"""Credits, rate limits, revocation and the usage report, through the real server and CLI."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import encode, photo
from tests.e2e.server import RunningServer

ENDPOINT = "/v1/imagecaption"


def declared_too_large(server: RunningServer, key: str) -> str:
    """An upload whose Content-Length is far over the limit, body never sent: the status line."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            (
                f"POST {ENDPOINT} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        reply = b""
        while chunk := sock.recv(65536):  # the server closes after answering
            reply += chunk
    return reply.decode(errors="replace").split("\r\n", 1)[0]


def test_concurrent_calls_never_overspend(server: RunningServer, photos: dict[str, bytes]) -> None:
    """The tiny plan covers exactly 7 calls; 20 at once: exactly 7 succeed, the rest get 403."""
    key, key_id = server.create_key_with_id("tiny")
    images = [encode(photo("chelsea").rotate(i, expand=True)) for i in range(20)]  # no cache hits

    def call(image: bytes) -> httpx.Response:
        return httpx.post(
            server.url + ENDPOINT,
            headers={"X-API-Key": key},
            files={"image": ("c", image)},
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(call, images))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 7, statuses
    assert statuses.count(403) == 13, statuses
    refused = next(r for r in responses if r.status_code == 403)
    assert "credits" in refused.json()["error"].lower()
    keys = json.loads(server.cli("keys", "list", "--json"))
    record = next(k for k in keys if k["id"] == key_id)
    assert record["balance"] == 0
    assert record["used"] == 70
    report = json.loads(server.cli("usage", "--key", record["id"], "--json"))
    assert report["charged_calls"] == 7
    assert report["credits"] == 70


def test_rate_limit_on_the_free_plan(server: RunningServer, photos: dict[str, bytes]) -> None:
    key = server.create_key("free")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        statuses = []
        for _ in range(7):
            response = client.post(
                ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
            )
            statuses.append(response.status_code)
        assert statuses == [200] * 5 + [429] * 2
        assert response.json()["error"].startswith("Rate limit exceeded")
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["x-api-remaining-tokens"] == str(1500 - 50), "429s are not charged"


def test_refused_calls_count_in_the_usage_report(
    server: RunningServer, photos: dict[str, bytes]
) -> None:
    """A 429, a wrong method (405), a revoked key (401) and a body declared too large (413) with
    a known key are the key's calls too, uncharged."""
    key, key_id = server.create_key_with_id("free")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        statuses = [
            client.post(
                ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
            ).status_code
            for _ in range(6)
        ]
        assert statuses == [200] * 5 + [429]
        wrong = client.get(ENDPOINT, headers={"X-API-Key": key})
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "POST"
        assert wrong.json() == {"status": "error", "error": "Method not allowed.", "data": None}
        assert client.get(ENDPOINT).status_code == 405, "405 without a key too"
    server.cli("keys", "revoke", key_id)
    time.sleep(1.2)  # a key's record may be remembered for key_cache_seconds (1 s)
    revoked = httpx.post(server.url + ENDPOINT, headers={"X-API-Key": key}, timeout=60)
    assert revoked.json()["error"] == "Invalid API key", "answered like an unknown key"
    pro, pro_id = server.create_key_with_id("pro")
    assert declared_too_large(server, pro).startswith("HTTP/1.1 413 ")
    report = json.loads(server.cli("usage", "--key", key_id, "--json"))
    assert report["by_status"] == {"200": 5, "401": 1, "405": 1, "429": 1}
    assert report["calls"] == 8
    assert report["charged_calls"] == 5
    assert "by status: 200: 5, 401: 1, 405: 1, 429: 1" in server.cli("usage", "--key", key_id)
    assert json.loads(server.cli("usage", "--key", pro_id, "--json"))["by_status"] == {"413": 1}


def test_paid_plan_is_not_throttled(server: RunningServer, photos: dict[str, bytes]) -> None:
    key = server.create_key("pro")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(8):
            response = client.post(
                ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
            )
            assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "unlimited"


def test_revoked_key_is_rejected_at_once(server: RunningServer, photos: dict[str, bytes]) -> None:
    key, key_id = server.create_key_with_id("pro")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert (
            client.post(
                ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
            ).status_code
            == 200
        )
        server.cli("keys", "revoke", key_id)
        response = client.post(
            ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
        )
        assert response.status_code == 401
        assert response.json()["error"] == "Invalid API key"


def test_credits_add_and_warnings(server: RunningServer, photos: dict[str, bytes]) -> None:
    """The warn plan has 10 calls: the 8th crosses 80%, the 10th 95%; then 403 until topped up."""
    key, key_id = server.create_key_with_id("warn")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(10):
            assert (
                client.post(
                    ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
                ).status_code
                == 200
            )
        refused = client.post(
            ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
        )
        assert refused.status_code == 403
        report = json.loads(server.cli("usage", "--key", key_id, "--json"))
        assert sorted(w["threshold"] for w in report["warnings"]) == [0.8, 0.95]
        server.cli("credits", "add", key_id, "10")
        again = client.post(
            ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
        )
        assert again.status_code == 200
        assert again.headers["x-api-remaining-tokens"] == "0"
    assert "usage warning" in server.logs().lower()


def test_usage_report_shows_published_style_latency(server: RunningServer, pro_key: str) -> None:
    text = server.cli("usage")
    assert "avg:" in text
    assert "p50:" in text
    assert "p99:" in text

"""Hostile requests rather than hostile files: nesting, odd URLs, lying framing, slow bodies.

Each was once a 500, a reservation held for as long as the client liked, a plain-text answer
outside the envelope, or a misleading refusal; each test here failed before its fix.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import time
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import encode, photo
from tests.e2e.corpus import malformed_exif
from tests.e2e.server import RunningServer

ENDPOINT = "/v1/imagecaption"
BODY_TIMEOUT = 4  # body_read_timeout_seconds in the e2e server's config


@pytest.fixture(scope="module")
def key(server: RunningServer) -> str:
    return server.create_key("pro")


def assert_envelope(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["data"] is None
    assert fragment.lower() in body["error"].lower(), body["error"]


def raw_exchange(server: RunningServer, request: bytes, timeout: float = 30) -> bytes:
    """Send bytes as they are and read until the server closes the connection."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def usage_by_status(server: RunningServer, key_id: str) -> dict[str, int]:
    report = json.loads(server.cli("usage", "--key", key_id, "--json"))
    return {str(status): count for status, count in report["by_status"].items()}


# 1. Inputs that escaped as 500s.


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000])
def test_json_nested_a_thousand_deep_is_400(client: httpx.Client, key: str, body: bytes) -> None:
    response = client.post(
        ENDPOINT, headers={"X-API-Key": key, "Content-Type": "application/json"}, content=body
    )
    assert_envelope(response, 400, "nested too deeply")


@pytest.mark.parametrize("host", ["xn--", "xn--a", "xn--zz-"])
@pytest.mark.parametrize("how", ["json url", "json image", "form", "multipart field"])
def test_malformed_international_host_name_is_400(
    client: httpx.Client, key: str, host: str, how: str
) -> None:
    url = f"http://{host}/cat.jpg"
    headers = {"X-API-Key": key}
    if how == "json url":
        response = client.post(ENDPOINT, headers=headers, json={"url": url})
    elif how == "json image":
        response = client.post(ENDPOINT, headers=headers, json={"image": url})
    elif how == "form":
        response = client.post(ENDPOINT, headers=headers, data={"image": url})
    else:
        response = client.post(
            ENDPOINT, headers=headers, data={"image": url}, files={"other": ("x", b"x")}
        )
    assert_envelope(response, 400, "not valid")


# 2. Slow and vanishing bodies.


def _partial_request(key: str, content_type: str, declared: int, sent: bytes) -> bytes:
    head = (
        f"POST {ENDPOINT} HTTP/1.1\r\nHost: test\r\nX-API-Key: {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n"
    )
    return head.encode() + sent


BODIES = {
    "json": ("application/json", b'{"image": "iVBORw0KGgo'),
    "multipart": (
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n\xff\xd8',
    ),
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_a_stalled_body_times_out_with_408_and_releases_the_reservation(
    server: RunningServer, client: httpx.Client, kind: str
) -> None:
    """A tiny key (70 credits, 10 a call) sends 7 uploads that stall: a call reserves its
    credits only once its image has arrived, so they hold none and a real call meanwhile is
    answered; they end with 408 and cost nothing."""
    secret, key_id = server.create_key_with_id("tiny")
    content_type, start = BODIES[kind]
    stalled = _partial_request(secret, content_type, 100_000, start)
    host, port = server.url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(7):
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(stalled)
        sockets.append(sock)
    started = time.monotonic()
    cat = encode(photo("chelsea"))
    time.sleep(1)
    during = client.post(ENDPOINT, headers={"X-API-Key": secret}, files={"image": ("c", cat)})
    assert during.status_code == 200, during.text
    assert during.headers["x-api-remaining-tokens"] == "60"
    replies = []
    for sock in sockets:
        with sock:
            replies.append(b"".join(iter(lambda s=sock: s.recv(65536), b"")))
    waited = time.monotonic() - started
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + 10, waited
    for reply in replies:
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), reply
        assert b"connection: close" in head.lower()
        envelope = json.loads(body)
        assert envelope["status"] == "error"
        assert f"within {BODY_TIMEOUT} seconds" in envelope["error"]
    after = client.post(ENDPOINT, headers={"X-API-Key": secret}, files={"image": ("c", cat)})
    assert after.status_code == 200, after.text
    assert after.headers["x-api-remaining-tokens"] == "50"
    statuses = usage_by_status(server, key_id)
    assert statuses.get("499") == 7, statuses  # the client's failure, not ours
    assert not [s for s in statuses if s.startswith("5")], statuses


@pytest.mark.parametrize("kind", list(BODIES))
def test_a_client_that_hangs_up_mid_body_is_recorded_as_gone(
    server: RunningServer, kind: str
) -> None:
    secret, key_id = server.create_key_with_id("pro")
    content_type, start = BODIES[kind]
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(_partial_request(secret, content_type, 100_000, start))
        time.sleep(0.5)
    deadline = time.monotonic() + 20
    while not (statuses := usage_by_status(server, key_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert statuses == {"499": 1}, statuses
    logs = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert not [
        entry for entry in logs if entry.get("event") == "unhandled error" and secret in str(entry)
    ]
    metrics = httpx.get(server.url + "/metrics").text
    assert 'status="499"' in metrics


# 3. Lying framing, answered in the envelope.


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: abc",
        "Content-Length: -5",
        "Content-Length: 2\r\nTransfer-Encoding: chunked",
        "Content-Length: 2\r\nContent-Length: 3",
    ],
    ids=["not a number", "negative", "length and chunked", "two lengths"],
)
def test_malformed_framing_is_answered_in_the_envelope(
    server: RunningServer, key: str, framing: str
) -> None:
    reply = raw_exchange(
        server,
        (
            f"POST {ENDPOINT} HTTP/1.1\r\nHost: test\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n{{}}"
        ).encode(),
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), reply
    assert b"content-type: application/json" in head.lower(), head
    assert b"connection: close" in head.lower(), head
    envelope = json.loads(body)
    assert envelope == {"status": "error", "error": envelope["error"], "data": None}
    assert "framing" in envelope["error"]


# 4. Refusals that said the wrong thing.


def png_of_exactly(size: int) -> bytes:
    """A PNG of incompressible pixels padded to exactly ``size`` bytes with a private chunk."""
    side = int((size * 0.99 / 3) ** 0.5)  # room for row filters and zlib block headers
    pixels = np.random.default_rng(1).integers(0, 256, (side, side, 3), np.uint8)
    png = encode(Image.fromarray(pixels), "PNG", compress_level=0)
    padding = size - len(png) - 12
    assert padding >= 0, (size, len(png))
    chunk = struct.pack(">I", padding) + b"prVt" + bytes(padding)
    chunk += struct.pack(">I", zlib.crc32(b"prVt" + bytes(padding)))
    out = png[:33] + chunk + png[33:]
    assert len(out) == size
    return out


@pytest.fixture(scope="module")
def png_4_9_mib() -> bytes:
    return png_of_exactly(5_138_022)


def test_base64_wrapped_at_76_columns_with_crlf_is_measured_by_the_image(
    client: httpx.Client, key: str, png_4_9_mib: bytes
) -> None:
    """4.9 MiB is under the 5 MB limit; its base64, wrapped and escaped in JSON, is 7.2 MB."""
    wrapped = base64.encodebytes(png_4_9_mib).decode().replace("\n", "\r\n")
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"image": wrapped})
    assert response.status_code == 200, response.text


def test_an_image_one_byte_over_the_limit_is_still_413_in_json(
    client: httpx.Client, key: str
) -> None:
    wrapped = base64.encodebytes(png_of_exactly(5 * 1024 * 1024 + 1)).decode()
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"image": wrapped})
    assert_envelope(response, 413, "5 MB")


@pytest.mark.parametrize("how", ["form", "multipart field", "json"])
def test_a_data_uri_over_a_megabyte_is_accepted_in_every_text_field(
    client: httpx.Client, key: str, how: str
) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png_of_exactly(3_000_000)).decode()
    headers = {"X-API-Key": key}
    if how == "form":
        response = client.post(ENDPOINT, headers=headers, data={"image": uri})
    elif how == "multipart field":
        response = client.post(
            ENDPOINT, headers=headers, data={"image": uri}, files={"other": ("x", b"x")}
        )
    else:
        response = client.post(ENDPOINT, headers=headers, json={"image": uri})
    assert response.status_code == 200, response.text


# 5. Smaller ones.


def test_trailing_slash_is_answered_not_redirected(
    client: httpx.Client, key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT + "/", headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
    )
    assert response.status_code == 200, (response.status_code, response.headers)
    assert response.json()["data"]["caption"]


def test_a_malformed_exif_tag_leaves_the_log_all_json(
    server: RunningServer, client: httpx.Client, key: str
) -> None:
    response = client.post(
        ENDPOINT, headers={"X-API-Key": key}, files={"image": ("x.jpg", malformed_exif())}
    )
    assert response.status_code == 200, response.text
    time.sleep(0.2)
    raw = [line for line in server.logs().splitlines() if not line.startswith("{")]
    assert raw == [], raw[:5]


def test_openapi_error_examples_are_envelopes(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"][ENDPOINT]["post"]
    for status, answer in operation["responses"].items():
        example = answer["content"]["application/json"].get("example")
        if status.startswith(("4", "5")):
            assert example is not None, status
            assert example["status"] == "error", (status, example)
            assert example["data"] is None, (status, example)
            assert example["error"], status


def test_the_trailing_slash_route_is_not_in_the_openapi_document(client: httpx.Client) -> None:
    assert ENDPOINT + "/" not in client.get("/openapi.json").json()["paths"]

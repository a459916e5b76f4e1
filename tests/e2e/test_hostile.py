"""Bad input gets a clear 4xx in the envelope, costs nothing, and never a 500."""

from __future__ import annotations

import base64
import io
import socket

import httpx
import pytest
from PIL import Image

from tests.conftest import encode, photo
from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer

ENDPOINT = "/v1/imagecaption"


@pytest.fixture(scope="module")
def key(server: RunningServer) -> str:
    return server.create_key("pro")


def balance(client: httpx.Client, key: str, photo_bytes: bytes) -> int:
    """Remaining credits as reported on a (charged) successful call, plus its cost."""
    response = client.post(
        ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photo_bytes)}
    )
    assert response.status_code == 200
    return int(response.headers["x-api-remaining-tokens"]) + 10


def post_file(
    client: httpx.Client, key: str, data: bytes, name: str = "photo.jpg"
) -> httpx.Response:
    return client.post(ENDPOINT, headers={"X-API-Key": key}, files={"image": (name, data)})


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["data"] is None
    for fragment in fragments:
        assert fragment.lower() in body["error"].lower(), body["error"]
    assert "Traceback" not in response.text
    assert "/site-packages/" not in response.text


def huge_png() -> bytes:
    """A 1-bit PNG that claims 100 megapixels but weighs a few kilobytes: a decompression bomb."""
    return encode(Image.new("1", (10_000, 10_000)), "PNG", optimize=True)


def huge_gif() -> bytes:
    return encode(Image.new("P", (9_000, 9_000)), "GIF")


@pytest.mark.parametrize(
    ("name", "payload", "status", "fragment"),
    [
        ("empty", b"", 400, "empty"),
        ("text named .jpg", b"hello, I am not an image at all\n" * 10, 400, "accepted types"),
        ("pdf", b"%PDF-1.7\n" + b"0" * 500, 400, "accepted types"),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', 400, "accepted types"),
        ("truncated jpeg", encode(photo("chelsea"))[:3000], 400, "decoded"),
        ("truncated png", encode(photo("chelsea"), "PNG")[:5000], 400, "decoded"),
        ("jpeg header only", b"\xff\xd8\xff\xe0" + b"\x00" * 20, 400, "decoded"),
        ("decompression bomb", huge_png(), 400, "megapixels"),
        ("huge gif", huge_gif(), 400, "megapixels"),
    ],
)
def test_hostile_uploads(
    client: httpx.Client, key: str, name: str, payload: bytes, status: int, fragment: str
) -> None:
    cat = encode(photo("chelsea"))
    before = balance(client, key, cat)
    assert_error(post_file(client, key, payload), status, fragment)
    assert balance(client, key, cat) == before - 10, "a failed call must cost nothing"


def test_six_megabyte_upload_is_413(client: httpx.Client, key: str) -> None:
    big = b"\xff\xd8\xff\xe0" + bytes(6 * 1024 * 1024)
    assert_error(post_file(client, key, big), 413, "5 MB")


def test_six_megabytes_of_base64_json_is_413(client: httpx.Client, key: str) -> None:
    big = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(6 * 1024 * 1024)).decode()
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"image": big})
    assert_error(response, 413, "5 MB")


def test_declared_content_length_over_the_limit_is_refused_before_reading(
    server: RunningServer, key: str
) -> None:
    """The server answers 413 after reading only the headers of a 1 GB upload."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {ENDPOINT} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                "Content-Length: 1000000000\r\n\r\n"
            ).encode()
        )
        chunks = []
        while chunk := sock.recv(65536):  # the server closes after answering
            chunks.append(chunk)
        reply = b"".join(chunks).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"status":"error"' in reply.replace(" ", "")


def test_streamed_body_without_length_is_cut_off(client: httpx.Client, key: str) -> None:
    def chunks():  # no Content-Length: chunked transfer encoding
        boundary_head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n\r\n'
        yield boundary_head
        for _ in range(8):
            yield bytes(1024 * 1024)
        yield b"\r\n--b--\r\n"

    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": key, "Content-Type": "multipart/form-data; boundary=b"},
        content=chunks(),
    )
    assert_error(response, 413, "MB")


def test_bad_base64(client: httpx.Client, key: str) -> None:
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"image": "%%%not base64%%%"})
    assert_error(response, 400)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/cat.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/cat.jpg",
        "http://0.0.0.0:9/",
        "http://224.0.0.1/",
    ],
)
def test_ssrf_to_private_addresses_is_refused(client: httpx.Client, key: str, url: str) -> None:
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"url": url})
    assert_error(response, 400, "not allowed")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/a.jpg", "gopher://x/"])
def test_non_http_schemes_are_refused(client: httpx.Client, key: str, url: str) -> None:
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"image": url})
    assert_error(response, 400, "http")


def test_redirect_to_a_private_address_is_refused(
    client: httpx.Client, key: str, image_site: ImageSite
) -> None:
    hop = image_site.redirect("/to-metadata", "http://169.254.169.254/latest/")
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"url": hop})
    assert_error(response, 400, "not allowed")


def test_url_errors(client: httpx.Client, key: str, image_site: ImageSite) -> None:
    missing = client.post(
        ENDPOINT, headers={"X-API-Key": key}, json={"url": image_site.url + "/nope"}
    )
    assert_error(missing, 400, "404")
    not_image = image_site.add("/page.html", b"<html>hi</html>", "text/html")
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"url": not_image})
    assert_error(response, 400, "accepted types")
    big = image_site.add("/big.jpg", b"\xff\xd8\xff" + bytes(6 * 1024 * 1024))
    response = client.post(ENDPOINT, headers={"X-API-Key": key}, json={"url": big})
    assert_error(response, 413)


def test_animated_gif_and_odd_modes(client: httpx.Client, key: str) -> None:
    cat = photo("chelsea")
    frames = [cat.convert("P"), Image.new("P", cat.size, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert post_file(client, key, buffer.getvalue()).status_code == 200
    for image in (
        cat.convert("CMYK"),
        cat.convert("L"),
        cat.convert("RGBA"),
        Image.new("1", (3, 3)),
    ):
        fmt = "JPEG" if image.mode in ("CMYK", "L") else "PNG"
        assert post_file(client, key, encode(image, fmt)).status_code == 200

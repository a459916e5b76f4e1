"""Fetching image URLs against a real HTTP server on loopback.

Every blocked address is refused at the check, before any connection: the `loopback_only` guard
fails the test if the fetcher ever tries to connect anywhere but 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import io
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from imagecaption import __version__
from imagecaption.errors import BadInput, PayloadTooLarge
from imagecaption.images import ImageFetcher

ALLOW_LOCAL = ["127.0.0.1/32"]
BLOCKED = "The image URL points to a private or local address, which is not allowed."


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


IMAGE = png()


class Handler(http.server.BaseHTTPRequestHandler):
    """One route per behaviour a remote image server can show."""

    server: Site

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = urlsplit(self.path).path
        query = parse_qs(urlsplit(self.path).query)
        try:
            if path == "/image.png":
                self.reply(200, IMAGE)
            elif path.startswith("/hops/"):
                left = int(path.rsplit("/", 1)[1])
                # A relative reference, resolved against the current URL: /hops/3 -> /hops/2
                self.reply(302, b"", Location=str(left - 1)) if left else self.reply(200, IMAGE)
            elif path == "/redirect":
                self.reply(302, b"", Location=query["to"][0])
            elif path == "/echo":
                self.reply(200, json.dumps(dict(self.headers.items())).encode())
            elif path == "/slow":
                time.sleep(1)
                self.reply(200, IMAGE)
            elif path == "/drip":
                self.send_response(200)
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            elif path == "/endless":  # no Content-Length: the body ends when the server closes
                self.send_response(200)
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(bytes(64 * 1024))
            elif path == "/declared-huge":
                self.send_response(200)
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
                self.wfile.write(IMAGE)
            elif path == "/gzip":
                self.reply(200, gzip.compress(IMAGE), **{"Content-Encoding": "gzip"})
            elif path == "/garbage":
                self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            else:
                self.reply(404, b"not found")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher hung up on purpose

    def reply(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Site(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[str] = []
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"


def serve(site: Site) -> Iterator[Site]:
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve(Site())


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail, without sending anything, if a test would ever connect beyond loopback."""
    send = httpx.AsyncHTTPTransport.handle_async_request

    async def guarded(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        assert ipaddress.ip_address(request.url.host).is_loopback, request.url
        return await send(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", guarded)


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host names the test makes up, answered without asking any real DNS server."""
    table: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in table:
            return await real(host, port, *args, **kwargs)
        if not table[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in table[host]
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return table


async def make_fetcher(**overrides: Any) -> AsyncIterator[ImageFetcher]:
    settings: dict[str, Any] = {
        "max_bytes": 100_000,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "total_timeout": 5.0,
        "allow_list": ALLOW_LOCAL,
    }
    fetcher = ImageFetcher(**(settings | overrides))
    try:
        yield fetcher
    finally:
        await fetcher.aclose()


@pytest.fixture
async def fetcher() -> AsyncIterator[ImageFetcher]:
    async for fetcher in make_fetcher():
        yield fetcher


@pytest.fixture
async def strict_fetcher() -> AsyncIterator[ImageFetcher]:
    """The default configuration: nothing but public addresses."""
    async for fetcher in make_fetcher(allow_list=[]):
        yield fetcher


async def refusal(fetcher: ImageFetcher, url: str) -> str:
    with pytest.raises(BadInput) as caught:
        await fetcher.fetch(url)
    assert caught.value.status_code == 400
    return str(caught.value)


async def test_allow_listed_local_server_is_fetched(fetcher: ImageFetcher, site: Site) -> None:
    assert await fetcher.fetch(f"{site.url}/image.png") == IMAGE


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/image.png",
        "http://localhost:{port}/image.png",
        "http://127.1:{port}/image.png",
        "http://0x7f000001:{port}/image.png",
        "http://2130706433:{port}/image.png",
        "http://[::1]:{port}/image.png",
        "http://[::ffff:127.0.0.1]:{port}/image.png",
        "http://[::ffff:7f00:1]:{port}/image.png",
        "http://0.0.0.0:{port}/image.png",
        "http://0x7f000001/",
        "https://127.0.0.1/",
        "http://10.0.0.1/cat.jpg",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[2002:7f00:1::]/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
async def test_local_and_private_addresses_are_refused_before_connecting(
    strict_fetcher: ImageFetcher, site: Site, url: str
) -> None:
    seen = len(site.requests)
    assert await refusal(strict_fetcher, url.format(port=site.port)) == BLOCKED
    assert len(site.requests) == seen


async def test_allow_list_is_exact(fetcher: ImageFetcher, site: Site) -> None:
    """127.0.0.1/32 opens 127.0.0.1 (also written as IPv4-mapped IPv6), not the rest of 127/8."""
    assert await fetcher.fetch(f"http://[::ffff:127.0.0.1]:{site.port}/image.png") == IMAGE
    assert await refusal(fetcher, f"http://127.0.0.2:{site.port}/image.png") == BLOCKED
    assert await refusal(fetcher, f"http://[::1]:{site.port}/image.png") == BLOCKED


async def test_a_host_with_any_private_address_is_refused(
    fetcher: ImageFetcher, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["mixed.example"] = ["93.184.215.14", "10.0.0.1"]
    fake_dns["rebind.example"] = ["192.168.0.10"]
    assert await refusal(fetcher, "http://mixed.example/cat.jpg") == BLOCKED
    assert await refusal(fetcher, "http://rebind.example/cat.jpg") == BLOCKED


async def test_connects_to_the_checked_address_with_the_original_host_header(
    fetcher: ImageFetcher, site: Site, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["images.example"] = ["127.0.0.1"]
    body = await fetcher.fetch(f"http://images.example:{site.port}/echo")
    headers = {name.lower(): value for name, value in json.loads(body).items()}
    assert headers["host"] == f"images.example:{site.port}"
    assert headers["user-agent"] == f"imagecaption/{__version__}"
    assert headers["accept-encoding"] == "identity"
    assert "authorization" not in headers
    assert "cookie" not in headers


async def test_falls_back_to_the_next_checked_address(
    site: Site, fake_dns: dict[str, list[str]]
) -> None:
    """The site listens on 127.0.0.1 only, so 127.0.0.2 refuses and 127.0.0.1 answers."""
    fake_dns["two.example"] = ["127.0.0.2", "127.0.0.1"]
    async for fetcher in make_fetcher(allow_list=["127.0.0.0/8"]):
        assert await fetcher.fetch(f"http://two.example:{site.port}/image.png") == IMAGE


@pytest.mark.parametrize("hops", [1, 3])
async def test_redirects_are_followed(fetcher: ImageFetcher, site: Site, hops: int) -> None:
    assert await fetcher.fetch(f"{site.url}/hops/{hops}") == IMAGE


async def test_too_many_redirects(fetcher: ImageFetcher, site: Site) -> None:
    message = await refusal(fetcher, f"{site.url}/hops/4")
    assert message == "Could not fetch the image URL: it redirected more than 3 times."
    async for no_redirects in make_fetcher(max_redirects=0):
        assert "more than 0 times" in await refusal(no_redirects, f"{site.url}/hops/1")


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/cat.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.2:{port}/image.png",
        "http://[::1]:{port}/image.png",
    ],
)
async def test_redirect_to_a_blocked_address_is_refused(
    fetcher: ImageFetcher, site: Site, target: str
) -> None:
    target = target.format(port=site.port)
    assert await refusal(fetcher, f"{site.url}/redirect?to={target}") == BLOCKED


async def test_redirect_to_a_malformed_host_name_is_refused(
    fetcher: ImageFetcher, site: Site
) -> None:
    message = await refusal(fetcher, f"{site.url}/redirect?to=http://xn--/")
    assert message == "The image URL is not valid."


async def test_redirect_to_another_scheme_is_refused(fetcher: ImageFetcher, site: Site) -> None:
    message = await refusal(fetcher, f"{site.url}/redirect?to=file:///etc/passwd")
    assert message == "Only http and https URLs are supported."


async def test_error_status(fetcher: ImageFetcher, site: Site) -> None:
    message = await refusal(fetcher, f"{site.url}/missing.jpg")
    assert message == "Could not fetch the image URL: the server answered 404."


async def test_read_timeout(site: Site) -> None:
    async for fetcher in make_fetcher(read_timeout=0.2):
        started = time.monotonic()
        assert "took too long to respond" in await refusal(fetcher, f"{site.url}/slow")
        assert time.monotonic() - started < 0.9


async def test_overall_deadline_stops_a_slow_drip(site: Site) -> None:
    """Each byte arrives well within the read timeout; only the overall deadline can stop it."""
    async for fetcher in make_fetcher(read_timeout=0.5, total_timeout=0.4):
        started = time.monotonic()
        message = await refusal(fetcher, f"{site.url}/drip")
        assert message == "Could not fetch the image URL: it took longer than 0.4 seconds."
        assert time.monotonic() - started < 1


async def test_stream_without_length_is_cut_off_at_the_limit(
    fetcher: ImageFetcher, site: Site
) -> None:
    with pytest.raises(PayloadTooLarge, match=r"larger than the 97.7 KB limit"):
        await fetcher.fetch(f"{site.url}/endless")


async def test_declared_length_over_the_limit_is_refused_before_reading(
    fetcher: ImageFetcher, site: Site
) -> None:
    with pytest.raises(PayloadTooLarge):
        await fetcher.fetch(f"{site.url}/declared-huge")


async def test_compressed_response_is_refused(fetcher: ImageFetcher, site: Site) -> None:
    assert "compressed (gzip)" in await refusal(fetcher, f"{site.url}/gzip")


async def test_invalid_http_is_refused(fetcher: ImageFetcher, site: Site) -> None:
    assert "did not answer with valid HTTP" in await refusal(fetcher, f"{site.url}/garbage")


async def test_connection_refused(fetcher: ImageFetcher) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    message = await refusal(fetcher, f"http://127.0.0.1:{port}/image.png")
    assert message == "Could not fetch the image URL: the server refused the connection."


async def test_unknown_host(fetcher: ImageFetcher, fake_dns: dict[str, list[str]]) -> None:
    fake_dns["nowhere.example"] = []
    message = await refusal(fetcher, "http://nowhere.example/cat.jpg")
    assert message == "Could not fetch the image URL: the host name could not be resolved."


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/cat.jpg", "Only http and https URLs are supported."),
        ("file:///etc/passwd", "Only http and https URLs are supported."),
        ("http://user:secret@127.0.0.1/", "user name or password"),
        ("http:///cat.jpg", "not valid"),
        ("http://[::1/", "not valid"),
        ("http://0177.0.0.1/", "not valid"),
        ("http://xn--/cat.jpg", "not valid"),  # an IDNA error, a 500 before
        ("http://xn--a.example/", "not valid"),
    ],
)
async def test_malformed_urls(fetcher: ImageFetcher, url: str, message: str) -> None:
    assert message in await refusal(fetcher, url)


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Path]]:
    """The same site over TLS, with a certificate for the name images.test only."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=images.test"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=DNS:images.test", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    site = Site()
    site.socket = context.wrap_socket(site.socket, server_side=True)
    for running in serve(site):
        yield running, cert


async def test_https_verifies_the_host_name_while_connecting_to_the_checked_address(
    tls_site: tuple[Site, Path], fake_dns: dict[str, list[str]]
) -> None:
    site, cert = tls_site
    fake_dns["images.test"] = ["127.0.0.1"]
    fake_dns["other.test"] = ["127.0.0.1"]
    trust = ssl.create_default_context(cafile=cert)
    async for fetcher in make_fetcher(ssl_context=trust):
        assert await fetcher.fetch(f"https://images.test:{site.port}/image.png") == IMAGE
        message = await refusal(fetcher, f"https://other.test:{site.port}/image.png")
        assert "certificate" in message
    async for default_trust in make_fetcher():
        assert "certificate" in await refusal(
            default_trust, f"https://images.test:{site.port}/image.png"
        )

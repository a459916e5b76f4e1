"""One real server process per test session, plus a local web server to fetch image URLs from."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import encode, photo
from tests.e2e.server import RunningServer, run_server

# Plans small enough to exhaust in a test; the allow-list lets the server fetch from the
# local image site (127.0.0.1) while every other private address stays blocked; a short body
# timeout so that the stalled-upload tests take seconds.
CONFIG = """
url_allow_list = ["127.0.0.1/32"]
log_level = "INFO"
body_read_timeout_seconds = 4

[plans.free]
monthly_credits = 1000
signup_bonus = 500
requests_per_minute = 5

[plans.pro]
monthly_credits = 10000000

[plans.tiny]
monthly_credits = 70
cost_per_call = 10

[plans.warn]
monthly_credits = 100
cost_per_call = 10
"""


@dataclass
class Gate:
    """A route answered only once ``released`` is set; ``asked`` is set when it is asked for."""

    asked: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class ImageSite:
    """Serves fixed bodies and redirect chains on loopback, some held back until released."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.gates: dict[str, Gate] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate = site.gates.get(self.path)
                if gate is not None:
                    gate.asked.set()
                    gate.released.wait(30)
                status, headers, body = site.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        self.routes[path] = (200, {"Content-Type": content_type}, body)
        return self.url + path

    def add_held(self, path: str, body: bytes) -> tuple[str, Gate]:
        """An image whose answer waits until the gate is released (at most 30 s)."""
        self.gates[path] = Gate()
        return self.add(path, body), self.gates[path]

    def redirect(self, path: str, target: str) -> str:
        self.routes[path] = (302, {"Location": target}, b"")
        return self.url + path


@pytest.fixture(scope="session")
def image_site() -> Iterator[ImageSite]:
    site = ImageSite()
    yield site
    site.httpd.shutdown()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(Path(tmp_path_factory.mktemp("server")), CONFIG) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


@pytest.fixture(scope="session")
def pro_key(server: RunningServer) -> str:
    return server.create_key("pro")


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return {
        "cat": encode(photo("chelsea")),
        "coffee": encode(photo("coffee")),
        "astronaut": encode(photo("astronaut")),
    }

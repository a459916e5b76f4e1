"""Forwarded headers are believed only from the proxies the operator listed, and over HTTPS the
session cookies carry the ``__Host-`` prefix, so another port of the same host cannot plant them.

httpx keeps no Secure cookie for an http:// URL, so the HTTPS cases carry their cookies by hand,
the way a browser behind the TLS-terminating proxy would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer, run_server
from tests.web.conftest import ADMIN_TOKEN, SIGN_IN_ATTEMPTS, csrf_token

WRONG_KEY = "ick-AAAAAAAA-" + "A" * 40
HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def server_without_proxies(
    tmp_path_factory: pytest.TempPathFactory, web_server: RunningServer
) -> Iterator[RunningServer]:
    """A server with the default settings: no trusted proxy. It reuses the model files."""
    data_dir = Path(tmp_path_factory.mktemp("no-proxies"))
    (data_dir / "models").symlink_to(web_server.data_dir / "models")
    config = f'admin_token = "{ADMIN_TOKEN}"\nsign_in_attempts_per_minute = {SIGN_IN_ATTEMPTS}\n'
    with run_server(data_dir, config) as running:
        yield running


def _cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    """Each Set-Cookie header, parsed, by cookie name."""
    parsed = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        parsed.update({name: cookie for name in cookie})
    return parsed


def _https_sign_in(server: RunningServer, credential: str, path: str) -> httpx.Response:
    """Load the sign-in form and post it back as a browser on HTTPS would, cookie included."""
    with httpx.Client(base_url=server.url, headers=HTTPS) as client:
        form = client.get("/admin" if path.startswith("/admin") else path)
        nonce = _cookies(form)["__Host-ic_signin"]["__Host-ic_signin"].value
        return client.post(
            path,
            data={"credential": credential, "csrf_token": csrf_token(form.text)},
            headers={"Cookie": f"__Host-ic_signin={nonce}"},
        )


def _sign_in_from(server: RunningServer, forwarded_for: str, credential: str) -> int:
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": forwarded_for}) as client:
        form = client.get("/signin")
        answer = client.post(
            "/signin", data={"credential": credential, "csrf_token": csrf_token(form.text)}
        )
        return answer.status_code


def test_forwarded_for_from_an_unlisted_peer_does_not_escape_the_sign_in_limit(
    server_without_proxies: RunningServer,
) -> None:
    """Before, any loopback peer was a trusted proxy, so each made-up address got a fresh limit."""
    statuses = [
        _sign_in_from(server_without_proxies, f"198.51.100.{n}", WRONG_KEY)
        for n in range(SIGN_IN_ATTEMPTS + 1)
    ]
    assert statuses == [401] * SIGN_IN_ATTEMPTS + [429]
    failures = [
        json.loads(line)
        for line in server_without_proxies.logs().splitlines()
        if "failed web sign-in" in line
    ]
    assert failures
    assert {entry["client"] for entry in failures} == {"127.0.0.1"}
    requests = [
        json.loads(line)
        for line in server_without_proxies.logs().splitlines()
        if '"request"' in line and '"/signin"' in line
    ]
    assert requests
    assert {entry["client"] for entry in requests} == {"127.0.0.1"}
    # The operator's door counts apart: the right token still opens it.
    with httpx.Client(base_url=server_without_proxies.url) as client:
        form = client.get("/admin")
        answer = client.post(
            "/admin/signin",
            data={"credential": ADMIN_TOKEN, "csrf_token": csrf_token(form.text)},
        )
        assert answer.status_code == 303


def test_forwarded_proto_from_an_unlisted_peer_is_ignored(
    server_without_proxies: RunningServer,
) -> None:
    with httpx.Client(base_url=server_without_proxies.url, headers=HTTPS) as client:
        form = client.get("/signin")
    names = _cookies(form)
    assert "ic_signin" in names, names
    assert not names["ic_signin"]["ic_signin"]["secure"]


@pytest.mark.parametrize(
    ("door", "landing"), [("/signin", "/dashboard"), ("/admin/signin", "/admin")]
)
def test_over_https_session_cookies_are_host_prefixed(
    web_server: RunningServer, door: str, landing: str
) -> None:
    credential = ADMIN_TOKEN if door.startswith("/admin") else web_server.create_key("pro")
    answer = _https_sign_in(web_server, credential, door)
    assert answer.status_code == 303, answer.text
    name = "__Host-ic_admin" if door.startswith("/admin") else "__Host-ic_session"
    cookies = _cookies(answer)
    assert set(cookies) == {name}, "only the prefixed name, which another port cannot set"
    morsel = cookies[name][name]
    assert morsel["secure"]
    assert morsel["httponly"]
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert morsel["samesite"].lower() == "strict"
    with httpx.Client(base_url=web_server.url, headers=HTTPS) as client:
        prefixed = client.get(landing, headers={"Cookie": f"{name}={morsel.value}"})
        assert prefixed.status_code == 200
        assert "Sign out" in prefixed.text
        # The same token under the plain name, which any port of this host could have set,
        # opens nothing over HTTPS.
        plain = client.get(landing, headers={"Cookie": f"{name[7:]}={morsel.value}"})
        assert "Sign out" not in plain.text

"""The web pages' security properties, checked over plain HTTP against a real server process."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer, run_server
from tests.web.conftest import ADMIN_TOKEN, SIGN_IN_ATTEMPTS, csrf_token, sign_in

PAGES = ["/", "/signin", "/admin", "/status", "/docs"]


@pytest.fixture(scope="module")
def server_without_admin(
    tmp_path_factory: pytest.TempPathFactory, web_server: RunningServer
) -> Iterator[RunningServer]:
    """A second server whose operator set no admin token; it reuses the first one's model files."""
    data_dir = Path(tmp_path_factory.mktemp("no-admin"))
    (data_dir / "models").symlink_to(web_server.data_dir / "models")
    with run_server(data_dir, 'url_allow_list = ["127.0.0.1/32"]\n') as running:
        yield running


@contextlib.contextmanager
def signed_in_client(
    server: RunningServer, plan: str = "pro"
) -> Iterator[tuple[httpx.Client, str]]:
    key = server.create_key(plan)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert sign_in(client, key).status_code == 303
        yield client, key


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_a_strict_content_security_policy(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "img-src 'self' data: blob:"):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text, "no inline scripts"
    assert not re.search(r"\son[a-z]+=", response.text), "no inline event handlers"
    assert not re.search(r'src="(https?:)?//', response.text), "nothing loads from elsewhere"


def test_assets_come_from_the_package(http: httpx.Client) -> None:
    assets = ("app.css", "docs.css", "playground.js", "checks.js", "formats.js", "snippets.js")
    for asset in (*assets, "copy.js", "docs.js"):
        response = http.get(f"/ui/static/{asset}")
        assert response.status_code == 200, asset
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "localStorage" not in response.text
        assert "sessionStorage" not in response.text
        assert "innerHTML" not in response.text


def test_session_cookie_is_httponly_strict_and_secure_over_https(
    web_server: RunningServer,
) -> None:
    key = web_server.create_key("pro")
    with httpx.Client(base_url=web_server.url) as client:
        answer = sign_in(client, key)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/" in cookie
        assert "Secure" not in cookie, "plain HTTP: a Secure cookie would never come back"
        assert key not in cookie
    # Behind a TLS-terminating proxy (trusted: it is on loopback) the cookie is Secure and
    # __Host- prefixed: tests/web/test_proxies.py checks it.


def test_sign_in_needs_the_form_token_and_our_origin(web_server: RunningServer) -> None:
    key = web_server.create_key("pro")
    with httpx.Client(base_url=web_server.url) as client:
        token = csrf_token(client.get("/signin").text)
        missing = client.post("/signin", data={"credential": key})
        assert missing.status_code == 403
        assert "Cross-site request refused" in missing.text
        forged = client.post(
            "/signin",
            data={"credential": key, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403
        assert (
            "set-cookie" not in forged.headers or "ic_session" not in forged.headers["set-cookie"]
        )
        good = client.post(
            "/signin",
            data={"credential": key, "csrf_token": token},
            headers={"Origin": web_server.url},
        )
        assert good.status_code == 303


def test_playground_caption_needs_the_page_token(
    web_server: RunningServer, cat_photo: bytes
) -> None:
    with signed_in_client(web_server) as (client, _):
        files = {"image": ("cat.jpg", cat_photo, "image/jpeg")}
        refused = client.post("/ui/api/caption", files=files)
        assert refused.status_code == 403
        assert refused.json()["error"].startswith("Cross-site request refused")
        token = csrf_token(client.get("/").text)
        cross_site = client.post(
            "/ui/api/caption",
            files=files,
            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403
        assert (
            client.post("/ui/api/caption", files=files, headers={"X-CSRF-Token": token}).status_code
            == 200
        )


def test_playground_caption_is_charged_and_answered_exactly_like_the_api(
    web_server: RunningServer, cat_photo: bytes
) -> None:
    with signed_in_client(web_server) as (client, key):
        token = csrf_token(client.get("/").text)
        files = {"image": ("cat.jpg", cat_photo, "image/jpeg")}
        ui = client.post(
            "/ui/api/caption",
            files=files,
            headers={"X-CSRF-Token": token, "Accept": "application/xml"},
        )
        api = client.post(
            "/v1/imagecaption",
            files=files,
            headers={"X-API-Key": key, "Accept": "application/xml"},
        )
    assert ui.status_code == api.status_code == 200
    assert ui.headers["content-type"] == api.headers["content-type"]
    assert ui.text == api.text  # the same image, the same caption, the same XML
    for header in ("x-api-current-plan", "x-api-max-tokens", "X-RateLimit-Limit"):
        assert ui.headers[header] == api.headers[header]
    cost = 10
    assert int(ui.headers["x-api-remaining-tokens"]) - cost == int(
        api.headers["x-api-remaining-tokens"]
    )
    assert ui.headers["x-request-id"] != api.headers["x-request-id"]


def test_playground_caption_without_a_session_is_401(http: httpx.Client, cat_photo: bytes) -> None:
    answer = http.post("/ui/api/caption", files={"image": ("c.jpg", cat_photo, "image/jpeg")})
    assert answer.status_code == 401
    assert answer.json()["error"].startswith("Not signed in")


def test_admin_forms_need_the_token(web_server: RunningServer) -> None:
    with httpx.Client(base_url=web_server.url) as client:
        assert sign_in(client, ADMIN_TOKEN, "/admin/signin").status_code == 303
        forged = client.post("/admin/keys", data={"plan": "pro", "name": "forged"})
        assert forged.status_code == 403
        assert "forged" not in client.get("/admin").text


def test_failed_sign_ins_are_rate_limited_per_address(web_server: RunningServer) -> None:
    key = web_server.create_key("pro")
    attacker = {"X-Forwarded-For": "203.0.113.7"}  # the server trusts its proxy on loopback
    with httpx.Client(base_url=web_server.url, headers=attacker) as client:
        wrong = "ick-AAAAAAAA-" + "A" * 40
        statuses = [sign_in(client, wrong).status_code for _ in range(SIGN_IN_ATTEMPTS)]
        assert statuses == [401] * SIGN_IN_ATTEMPTS
        blocked = sign_in(client, key)  # even the right key: guessing must stop
        assert blocked.status_code == 429
        assert "Too many failed sign-ins" in blocked.text
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        # Key and operator sign-ins are limited apart: guessing keys never locks the operator out.
        assert sign_in(client, ADMIN_TOKEN, "/admin/signin").status_code == 303
    neighbour = {"X-Forwarded-For": "203.0.113.8"}
    with httpx.Client(base_url=web_server.url, headers=neighbour) as client:
        assert sign_in(client, key).status_code == 303


def test_the_key_never_appears_in_pages_or_logs(
    web_server: RunningServer, cat_photo: bytes
) -> None:
    with signed_in_client(web_server) as (client, key):
        token = csrf_token(client.get("/").text)
        client.post(
            "/ui/api/caption",
            files={"image": ("c.jpg", cat_photo, "image/jpeg")},
            headers={"X-CSRF-Token": token},
        )
        for path in ("/", "/dashboard", "/signin"):
            body = client.get(path, follow_redirects=True).text
            assert key not in body, path
            assert key.rsplit("-", 1)[1] not in body, path
        assert key.split("-")[1] in client.get("/dashboard").text, "the public id is shown"
    assert key not in web_server.logs()


def test_signing_out_ends_the_session_on_the_server(web_server: RunningServer) -> None:
    with signed_in_client(web_server) as (client, _):
        cookie = client.cookies["ic_session"]
        page = client.get("/dashboard")
        assert page.status_code == 200
        out = client.post("/signout", data={"csrf_token": csrf_token(page.text)})
        assert out.status_code == 303
        assert "ic_session" not in client.cookies
    # Someone who kept a copy of the cookie gets nothing with it any more.
    with httpx.Client(base_url=web_server.url, cookies={"ic_session": cookie}) as replay:
        answer = replay.get("/dashboard")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin"


def test_dashboard_shows_the_usage_warnings(web_server: RunningServer, cat_photo: bytes) -> None:
    """The warn plan has 100 credits at 10 a call: 80% after 8 calls, 95% after 10."""
    with signed_in_client(web_server, plan="warn") as (client, key):
        for calls, shown in ((0, None), (8, "80%"), (2, "95%")):
            for _ in range(calls):
                answer = client.post(
                    "/v1/imagecaption",
                    headers={"X-API-Key": key},
                    files={"image": ("c.jpg", cat_photo, "image/jpeg")},
                )
                assert answer.status_code == 200
            page = client.get("/dashboard").text
            if shown is None:
                assert 'id="usage-warning"' not in page
                continue
            # The last call is charged, and its warning recorded, just after its answer is sent.
            deadline = time.monotonic() + 10
            while f"You have used more than {shown} of this period" not in page:
                assert time.monotonic() < deadline, page
                time.sleep(0.05)
                page = client.get("/dashboard").text


def test_operator_pages_do_not_exist_without_an_admin_token(
    server_without_admin: RunningServer,
) -> None:
    """Every method on every operator path answers 404; all but /admin itself exactly like a
    path that never existed, and /admin says how to turn the pages on."""
    with httpx.Client(base_url=server_without_admin.url) as client:
        unknown = client.get("/no-such-page").json()
        for path in ("/admin", "/admin/signin", "/admin/signout", "/admin/keys/x/revoke"):
            for method in ("GET", "POST"):
                answer = client.request(method, path)
                assert answer.status_code == 404, (method, path)
                if (method, path) != ("GET", "/admin"):
                    assert answer.json() == unknown
        assert client.get("/").status_code == 200, "the playground stays"


def test_admin_without_a_token_says_how_to_turn_it_on(
    server_without_admin: RunningServer,
) -> None:
    with httpx.Client(base_url=server_without_admin.url) as client:
        envelope = client.get("/admin").json()
        page = client.get("/admin", headers={"Accept": "text/html"})
    assert envelope["status"] == "error"
    assert "IMAGECAPTION_ADMIN_TOKEN" in envelope["error"]
    assert page.status_code == 404
    assert "Operator pages are off" in page.text
    assert "IMAGECAPTION_ADMIN_TOKEN" in page.text
    assert ".venv/bin/imagecaption serve" in page.text
    assert re.search(r'href="/" id="way-back"', page.text), "back to the playground"


def test_an_error_on_the_operator_page_itself_does_not_link_back_to_it(
    web_server: RunningServer,
) -> None:
    with httpx.Client(base_url=web_server.url, headers={"Accept": "text/html"}) as client:
        answer = client.post("/admin")
        assert answer.status_code == 405
        way_back = re.search(r'href="([^"]*)" id="way-back"', answer.text)
        assert way_back is not None
        assert way_back.group(1) != "/admin"
        # Deeper operator addresses still lead back to the operator page.
        deeper = client.get("/admin/keys")
        assert re.search(r'href="/admin" id="way-back">Back to the operator page', deeper.text)


def test_sessions_survive_a_restart_but_not_a_new_admin_token(
    server_without_admin: RunningServer,
) -> None:
    """Sessions and the generated secret live in the data directory, not in the process: new
    server processes on the same directory (as after a restart) honour a key holder's session
    and the CSRF tokens of pages left open. An operator's session ends when the token changes."""
    data_dir = server_without_admin.data_dir
    base = 'url_allow_list = ["127.0.0.1/32"]\n'
    with signed_in_client(server_without_admin) as (client, _):
        token = csrf_token(client.get("/dashboard").text)
        cookie = client.cookies["ic_session"]

    def still_signed_in(server: RunningServer) -> None:
        with httpx.Client(base_url=server.url, cookies={"ic_session": cookie}) as replay:
            page = replay.get("/dashboard")
            assert page.status_code == 200
            assert csrf_token(page.text) == token

    with run_server(data_dir, base + 'admin_token = "first-admin-token-0123456789"\n') as first:
        still_signed_in(first)
        with httpx.Client(base_url=first.url) as operator:
            assert sign_in(operator, "first-admin-token-0123456789", "/admin/signin").is_redirect
            admin_cookie = operator.cookies["ic_admin"]
            assert 'id="create-key"' in operator.get("/admin").text
    with run_server(data_dir, base + 'admin_token = "second-admin-token-012345678"\n') as second:
        still_signed_in(second)
        with httpx.Client(base_url=second.url, cookies={"ic_admin": admin_cookie}) as operator:
            page = operator.get("/admin").text
            assert "Operator sign-in" in page
            assert 'id="create-key"' not in page

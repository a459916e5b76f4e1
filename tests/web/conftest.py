"""Real server processes for the web pages, and a real Chromium to drive them.

Playwright's own browser download does not work everywhere, so the tests drive Debian's
Chromium, installing it with apt-get when it is missing and skipping (with the reason) only when
that fails. axe-core, which checks the pages' accessibility, comes from the npm registry the same
way: one pinned version, fetched once with ``npm pack``, checked against its published integrity
hash and kept in pytest's cache folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    ViewportSize,
    sync_playwright,
)

from tests.conftest import encode, photo
from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer, run_server

ADMIN_TOKEN = "web-tests-admin-token-0123456789"
MAX_UPLOAD_BYTES = 1_000_000
SIGN_IN_ATTEMPTS = 5

CONFIG = f"""
admin_token = "{ADMIN_TOKEN}"
url_allow_list = ["127.0.0.1/32"]
max_upload_bytes = {MAX_UPLOAD_BYTES}
sign_in_attempts_per_minute = {SIGN_IN_ATTEMPTS}
trusted_proxies = ["127.0.0.1"]  # the tests play the TLS-terminating proxy too
job_sweep_seconds = 0.2
job_callback_backoff_seconds = 0.3
job_callback_retry_seconds = 1  # a webhook that keeps failing is given up in seconds

[plans.free]
monthly_credits = 1000
signup_bonus = 500
requests_per_minute = 30

[plans.pro]
monthly_credits = 10000000

[plans.slow]
monthly_credits = 1000
requests_per_minute = 2

[plans.warn]
monthly_credits = 100
cost_per_call = 10
"""

DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(Path(tmp_path_factory.mktemp("web")), CONFIG) as running:
        yield running


@pytest.fixture(scope="session")
def image_site() -> Iterator[ImageSite]:
    site = ImageSite()
    yield site
    site.httpd.shutdown()


@pytest.fixture
def http(web_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def cat_photo() -> bytes:
    return encode(photo("chelsea"))


def csrf_token(html: str) -> str:
    """The token a page embeds in its forms (or in its csrf-token meta tag)."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html) or re.search(
        r'name="csrf-token" content="([0-9a-f]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: httpx.Client, credential: str, path: str = "/signin") -> httpx.Response:
    """Sign in the way the browser does: load the form, post it back with its token."""
    form_page = client.get("/admin" if path.startswith("/admin") else path)
    return client.post(
        path, data={"credential": credential, "csrf_token": csrf_token(form_page.text)}
    )


def _install_chromium() -> str | None:
    """Install Debian's Chromium if it is missing; return why not when that fails."""
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None:
        return "Chromium is missing and there is no apt-get to install it with"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            subprocess.run(command, env=env, capture_output=True, timeout=900, check=True)
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            return f"could not install Chromium ({' '.join(command)}): {detail.decode()[-500:]}"
    return (
        None
        if CHROMIUM.exists()
        else "apt-get installed chromium but it is not at " + str(CHROMIUM)
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = _install_chromium()
    if reason:
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: {reason}")
    return str(CHROMIUM)


AXE_VERSION = "4.10.3"
AXE_INTEGRITY = (  # npm's "integrity" for this version
    "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoY"
    "ZvGfTs/PbZhideTcEg=="
)
# Never tolerated, not even in a third party's widget.
SERIOUS = ("serious", "critical")


def _fetch_axe(folder: Path) -> Path:
    """``npm pack`` the pinned axe-core into ``folder`` and unpack its one browser file."""
    target = folder / "axe.min.js"
    if target.exists():
        return target
    if shutil.which("npm") is None:
        raise RuntimeError("there is no npm to fetch it with")
    subprocess.run(
        ["npm", "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(folder)],
        capture_output=True,
        timeout=300,
        check=True,
    )
    tarball = folder / f"axe-core-{AXE_VERSION}.tgz"
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != AXE_INTEGRITY:
        tarball.unlink()
        raise RuntimeError(f"{tarball.name} does not match its published integrity hash")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        partial = folder / "axe.min.js.partial"
        partial.write_bytes(member.read())
    partial.rename(target)
    tarball.unlink()
    return target


@pytest.fixture(scope="session")
def axe_source(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's browser script, kept in pytest's cache between runs (or, with the cache
    turned off, fetched into this run's temporary folder)."""
    cache: pytest.Cache | None = getattr(pytestconfig, "cache", None)
    name = f"axe-core-{AXE_VERSION}"
    folder = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    try:
        return _fetch_axe(folder).read_text()
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        pytest.skip(f"accessibility tests need axe-core {AXE_VERSION}: {error} {detail[-300:]!r}")


def axe_violations(page: Page, axe_source: str, *, include: str = "html") -> list[dict[str, Any]]:
    """Run axe-core in the page, as injected script (the pages' CSP forbids inline scripts; the
    browser's own evaluation is not subject to it), over ``include``; return every violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(
        "async (include) => (await axe.run(include, {resultTypes: ['violations']})).violations",
        include,
    )
    return found


def describe(violations: list[dict[str, Any]]) -> list[str]:
    """One line per violation and node, readable in a failed assertion."""
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node['html'][:120]}"
        for v in violations
        for node in v["nodes"]
    ]


def assert_accessible(
    page: Page, axe_source: str, *, not_ours: frozenset[str] = frozenset(), inside: str = ""
) -> list[dict[str, Any]]:
    """Fail on any axe violation, whatever its impact, but those of rules in ``not_ours`` whose
    every node lies inside ``inside`` (a third party's widget); return what was let through."""
    violations = axe_violations(page, axe_source)
    tolerated = []
    for violation in violations:
        targets = [node["target"][0] for node in violation["nodes"]]
        within = page.evaluate(
            "([targets, inside]) => targets.every("
            "(target) => document.querySelector(target)?.closest(inside))",
            [targets, inside or "html"],
        )
        if violation["id"] in not_ours and within:
            tolerated.append(violation)
    problems = [v for v in violations if v not in tolerated]
    assert not problems, describe(problems)
    assert all(v["impact"] not in SERIOUS for v in tolerated), describe(tolerated)
    return tolerated


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, web_server: RunningServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies or state carried from another test."""
    fresh = browser.new_context(base_url=web_server.url, viewport=DESKTOP)
    fresh.set_default_timeout(30_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any script error or dialog (an alert means injection)."""
    opened = context.new_page()
    problems: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"CSP violation: {message.text}")

    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    opened.on("dialog", on_dialog)
    opened.on("console", on_console)
    yield opened
    assert not problems, problems


def screenshot(page: Page, name: str) -> None:
    """Keep the page as people see it, at desktop and at phone width, as a test artifact.

    At phone width nothing may stick out sideways: the page must fit without scrolling across.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} is {width}px wide at {label} width"
    page.set_viewport_size(DESKTOP)

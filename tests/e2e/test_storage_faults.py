"""Faults under the SQLite store: a full disk, a lock held by another process, a SIGKILL; and
storage that cannot be used at start: a full or read-only data folder, a missing database
driver, a database that refuses the login.

While a fault lasts, calls and web pages are answered 503 with Retry-After (or succeed, where
SQLite still has room to write) and never 500; nobody pays for a call that failed; the server
recovers by itself when the fault ends; and afterwards the ledger adds up: the balance is the
allowance less 10 credits for each recorded success, and no reservation is left behind. At
start, the commands name the folder or the setting and the cause in a line or two, and exit 1.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.server import RunningServer, free_port, run_server
from tests.replicas.cluster import assert_books_balance, distinct_image, wait_until_no_reservation

pytestmark = pytest.mark.slow

TTL_SECONDS = 2
CONFIG = f"""
log_level = "WARNING"
cache_size = 0
reservation_ttl_seconds = {TTL_SECONDS}
"""
DISK_MB = 24
LOCK_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The server's data directory, on a small tmpfs of its own when mounting is allowed."""
    folder = Path(tmp_path_factory.mktemp("storage"))
    mounted = os.geteuid() == 0 and sys.platform.startswith("linux")
    if mounted:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(folder)], check=True
        )
    try:
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[RunningServer]:
    with run_server(data_dir, CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'imagecaption.db'}"


def caption(server: RunningServer, key: str, image: bytes, timeout: float = 90) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/imagecaption",
        headers={"X-API-Key": key},
        files={"image": ("i.jpg", image)},
        timeout=timeout,
    )


def assert_failed_clearly(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["status"] == "error"
    assert int(response.headers["Retry-After"]) >= 1


def recovered(server: RunningServer, key: str, image: bytes, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if caption(server, key, image).status_code == 200:
            return True
        time.sleep(0.5)
    return False


def _write_until_it_fails(handle: BinaryIO, block: bytes) -> int | None:
    try:
        while True:
            handle.write(block)
    except OSError as error:
        return error.errno


def fill(folder: Path) -> Path:
    """Write a file until the disk under ``folder`` is full (in big blocks, then in pages)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for block in (bytes(1 << 20), bytes(4096)):
            assert _write_until_it_fails(handle, block) == errno.ENOSPC
    return filler


def traffic_until_killed(server: RunningServer, key: str, workers: int) -> list[int]:
    """``workers`` clients sending distinct images back to back until the server is gone;
    0 is a call cut off in flight."""
    codes: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for sent in range(10_000):
            try:
                status = caption(server, key, distinct_image(worker * 10_000 + sent)).status_code
            except httpx.TransportError:
                status = 0
            with lock:
                codes.append(status)
            if status == 0:
                return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    for thread in threads:
        thread.join(60)
    return codes


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_answers_503_charges_nobody_and_recovers(
    server: RunningServer, data_dir: Path, database_url: str
) -> None:
    key, key_id = server.create_key_with_id("pro")
    delivered = 0
    assert caption(server, key, distinct_image(1)).status_code == 200
    delivered += 1
    wait_until_no_reservation(database_url, key_id, 10)  # charged once the answer was sent
    filler = fill(data_dir)
    try:
        during = [caption(server, key, distinct_image(100 + i)) for i in range(12)]
    finally:
        filler.unlink()
    codes = [response.status_code for response in during]
    assert set(codes) <= {200, 503}, codes
    assert 503 in codes, f"the full disk never showed: {codes}"
    for response in during:
        if response.status_code == 503:
            assert_failed_clearly(response)
    delivered += codes.count(200)
    assert recovered(server, key, distinct_image(2))
    delivered += 1
    wait_until_no_reservation(database_url, key_id, TTL_SECONDS * 5 + 5)
    # An answer whose charge the full disk refused after it was sent is free, never the reverse.
    assert_books_balance(database_url, key_id, delivered, may_be_free=codes.count(200))


def sign_in_form(client: httpx.Client) -> str:
    """The sign-in page's CSRF token (its nonce cookie stays in the client)."""
    page = client.get("/signin")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found, "no CSRF token on the sign-in page"
    return found.group(1)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_answers_503_on_the_web_pages_too(
    server: RunningServer, data_dir: Path
) -> None:
    """Signing in writes a session: on a full disk that is a 503 with Retry-After, a page for a
    browser and the envelope for a program, never a 500; pages that only read still answer."""
    key = server.create_key("pro")
    with (
        httpx.Client(base_url=server.url, timeout=30) as browser,
        httpx.Client(base_url=server.url, timeout=30) as program,
    ):
        browser.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
        tokens = (sign_in_form(browser), sign_in_form(program))
        filler = fill(data_dir)
        try:
            as_page = browser.post("/signin", data={"credential": key, "csrf_token": tokens[0]})
            as_envelope = program.post("/signin", data={"credential": key, "csrf_token": tokens[1]})
            pages = [browser.get(path) for path in ("/", "/signin", "/dashboard", "/status")]
        finally:
            filler.unlink()
        assert as_page.status_code == 503, as_page.text
        assert as_page.headers["content-type"].startswith("text/html")
        assert int(as_page.headers["Retry-After"]) >= 1
        assert_failed_clearly(as_envelope)
        assert [page.status_code for page in pages if page.status_code >= 500] in ([], [503]), [
            (page.url.path, page.status_code) for page in pages
        ]
        assert sign_in_form(program)
        answer = program.post(
            "/signin", data={"credential": key, "csrf_token": sign_in_form(program)}
        )
        assert answer.status_code == 303, "signing in works again once there is room"


@contextlib.contextmanager
def read_only_view(folder: Path) -> Iterator[None]:
    """The folder read-only for every file opened from now on, as after a remount read-only.

    A folder cannot be remounted read-only while the server holds files in it open for writing,
    so a read-only bind mount goes over it: files the server already has open stay writable,
    like database connections kept in its pool, and everything it opens anew is refused.
    """
    subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_a_read_only_data_folder_answers_503_not_500_and_recovers(
    server: RunningServer, data_dir: Path
) -> None:
    key = server.create_key("pro")
    with httpx.Client(base_url=server.url, timeout=30) as program:
        token = sign_in_form(program)
        with read_only_view(data_dir):
            assert _write_refused(data_dir), "the view must be read-only"
            signing_in = program.post("/signin", data={"credential": key, "csrf_token": token})
            pages = [program.get(path) for path in ("/", "/signin", "/dashboard", "/status")]
            calls = [caption(server, key, distinct_image(200 + i)) for i in range(3)]
        assert_failed_clearly(signing_in)
        answered = [(r.request.url.path, r.status_code) for r in [*pages, *calls]]
        assert all(status in (200, 303, 503) for _, status in answered), answered
        for response in [*pages, *calls]:
            if response.status_code == 503:
                assert_failed_clearly(response)
        answer = program.post(
            "/signin", data={"credential": key, "csrf_token": sign_in_form(program)}
        )
        assert answer.status_code == 303, "signing in works again once the folder is writable"
    assert recovered(server, key, distinct_image(300))


def _write_refused(folder: Path) -> bool:
    try:
        (folder / "probe").write_bytes(b"x")
    except OSError as error:
        return error.errno == errno.EROFS
    return False


def test_a_database_locked_by_another_process_answers_503_and_recovers(
    server: RunningServer, database_url: str, data_dir: Path
) -> None:
    """SQLite waits up to its busy timeout (30 s) for the lock, then the call is a 503."""
    key, key_id = server.create_key_with_id("pro")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(data_dir / "imagecaption.db"), "40"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        response = caption(server, key, distinct_image(3))
        assert_failed_clearly(response)
        assert time.monotonic() - started < 38, "the 503 must come before the lock is released"
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(10)
    assert recovered(server, key, distinct_image(4))
    wait_until_no_reservation(database_url, key_id, TTL_SECONDS * 5 + 5)
    assert_books_balance(database_url, key_id, delivered=1)


def test_sigkill_in_a_burst_loses_and_doubles_no_credit(
    server: RunningServer, data_dir: Path, database_url: str
) -> None:
    """Killed while 8 clients are sending; restarted on the same files, the janitor refunds
    what the dead process had reserved: nobody paid for a call cut off, and at most the 8
    answers in flight at the kill went unpaid."""
    key, key_id = server.create_key_with_id("pro")
    codes = traffic_until_killed(server, key, workers=8)
    assert codes.count(0) > 0, codes  # some calls were cut off in flight
    assert codes.count(200) > 0, codes
    assert set(codes) <= {0, 200}, codes
    with run_server(data_dir, CONFIG) as restarted:
        wait_until_no_reservation(database_url, key_id, TTL_SECONDS * 5 + 10)
        assert_books_balance(database_url, key_id, codes.count(200), may_be_free=8)
        assert caption(restarted, key, distinct_image(5)).status_code == 200


# Start-up faults: the commands themselves, each in its own process.

COMMANDS = [["serve", "--port", "9"], ["keys", "list"], ["usage"], ["db", "upgrade"]]
COMMAND_IDS = [" ".join(command[:2]) for command in COMMANDS]
POSTGRES_URL = os.environ.get(
    "IMAGECAPTION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Runs the command with the named packages made unimportable, as if they were not installed.
WITHOUT_PACKAGES = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["imagecaption", *sys.argv[2:]]
from imagecaption.cli import main
main()
"""


def run_command(
    args: list[str], data_dir: Path, *, env: dict[str, str] | None = None, hidden: str = ""
) -> subprocess.CompletedProcess[str]:
    """An operator command; ``hidden`` names packages to make unimportable (comma-separated)."""
    launch = (
        [sys.executable, "-c", WITHOUT_PACKAGES, hidden]
        if hidden
        else [
            sys.executable,
            "-m",
            "imagecaption",
        ]
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IMAGECAPTION_")}
    return subprocess.run(
        [*launch, *args, "--data-dir", str(data_dir)],
        env={**environment, "IMAGECAPTION_MODEL": "offline", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_named_in_lines(
    result: subprocess.CompletedProcess[str], lines: int, *names: str
) -> None:
    """Exit 1, at most ``lines`` lines of output, no traceback, and every name in them."""
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    assert "\u2502" not in output, output  # the frame of a formatted traceback
    assert len(output.splitlines()) <= lines, output
    for name in names:
        assert name in output, output


@contextlib.contextmanager
def small_tmpfs(folder: Path, megabytes: int) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], check=True
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def read_only_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data folder with a database in it, then remounted read-only (root ignores file modes,
    so a mode of 0o555 would not stop the test's own root user)."""
    if os.geteuid() != 0:
        pytest.skip("a read-only mount needs root; file modes do not stop root")
    with small_tmpfs(tmp_path_factory.mktemp("read-only"), 8) as folder:
        created = run_command(["keys", "create", "--plan", "pro"], folder)
        assert created.returncode == 0, created.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_a_read_only_data_folder_is_named_at_start(
    read_only_data_dir: Path, command: list[str]
) -> None:
    result = run_command(command, read_only_data_dir)
    assert_named_in_lines(result, 2, str(read_only_data_dir), "read-only")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_data_folder_is_named_at_start(tmp_path: Path) -> None:
    """The server cannot take a paid call without writing, so it says so instead of starting."""
    with small_tmpfs(tmp_path / "full", 2) as folder:
        fill(folder)
        result = run_command(COMMANDS[0], folder)
    assert_named_in_lines(result, 2, str(folder), "disk is full")


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_a_missing_database_driver_is_one_line(tmp_path: Path, command: list[str]) -> None:
    env = {"IMAGECAPTION_DATABASE_URL": "postgresql://imagecaption@127.0.0.1:5432/imagecaption"}
    result = run_command(command, tmp_path, env=env, hidden="psycopg")
    assert_named_in_lines(result, 1, "pip install 'imagecaption[postgres]'")


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_a_refused_database_login_is_one_line(tmp_path: Path, command: list[str]) -> None:
    """A role that does not exist, with a password that must not be shown."""
    url = make_url(POSTGRES_URL).set(username="imagecaption_no_such_role", password="s3cret")
    shown = url.render_as_string(hide_password=False)
    result = run_command(command, tmp_path, env={"IMAGECAPTION_DATABASE_URL": shown})
    if "refused" in result.stderr.lower() and "role" not in result.stderr:
        pytest.skip(f"PostgreSQL at {url.host}:{url.port} does not answer")
    assert_named_in_lines(result, 1, "imagecaption_no_such_role", "database_url")
    assert "s3cret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"database": "imagecaption_no_such_database"}, "the database name"),
        ({"port": free_port()}, "the host and port"),
    ],
    ids=["missing database", "nothing listening"],
)
def test_a_database_that_is_missing_or_silent_is_one_line(
    tmp_path: Path, change: dict[str, object], named: str
) -> None:
    url = make_url(POSTGRES_URL).set(**change)  # type: ignore[arg-type]
    if "port" not in change and not _postgres_answers():
        pytest.skip(f"PostgreSQL at {url.host}:{url.port} does not answer")
    env = {"IMAGECAPTION_DATABASE_URL": url.render_as_string(hide_password=False)}
    result = run_command(["keys", "list"], tmp_path, env=env)
    assert_named_in_lines(result, 1, named, "database_url")


def _postgres_answers() -> bool:
    url = make_url(POSTGRES_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=3).close()
    except OSError:
        return False
    return True

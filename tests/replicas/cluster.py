"""Real replicas, a throw-away PostgreSQL and Redis of their own, and concurrent traffic.

Everything here talks to loopback only, and every burst is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import encode, photo
from tests.e2e.server import RunningServer, free_port, run_server

REDIS_URL = os.environ.get("IMAGECAPTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def replica_config(database_url: str, redis_url: str | None = None, **extra: object) -> str:
    """TOML for one replica: the offline captioner, so that start-up is seconds, not minutes."""
    values: dict[str, object] = {
        "model": "offline",
        "log_level": "INFO",
        "database_url": database_url,
        "auto_migrate": True,
    }
    if redis_url:
        values["redis_url"] = redis_url
    values.update(extra)
    lines = [f"{name} = {json.dumps(value)}" for name, value in values.items()]
    lines += [
        "[plans.exact]",
        "monthly_credits = 100",
        "cost_per_call = 10",
        "[plans.limited]",
        "monthly_credits = 1000000",
        "requests_per_minute = 12",
        "[plans.pro]",
        "monthly_credits = 10000000",
    ]
    return "\n".join(lines) + "\n"


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def require_redis(url: str = REDIS_URL) -> None:
    if not redis_answers(url):
        pytest.skip(f"Redis at {url} is unreachable")


@contextlib.contextmanager
def replicas(root: Path, config: str, count: int) -> Iterator[list[RunningServer]]:
    """``count`` real ``imagecaption serve`` processes sharing the database named in ``config``."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(run_server(root / f"replica{index}", config))
            for index in range(count)
        ]


@dataclass
class Outcome:
    status: int
    headers: httpx.Headers


async def _burst(urls: list[str], key: str, image: bytes, calls: int) -> list[Outcome]:
    limits = httpx.Limits(max_connections=calls)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(index: int) -> Outcome:
            url = urls[index % len(urls)] + "/v1/imagecaption"
            try:
                response = await client.post(
                    url, headers={"X-API-Key": key}, files={"image": ("i.jpg", image)}
                )
            except httpx.TransportError:
                return Outcome(0, httpx.Headers())
            return Outcome(response.status_code, response.headers)

        return list(await asyncio.gather(*(one(i) for i in range(calls))))


def burst(urls: list[str], key: str, calls: int, image: bytes | None = None) -> list[Outcome]:
    """``calls`` concurrent captions spread round-robin over ``urls``; 0 = connection failed."""
    return asyncio.run(_burst(urls, key, image or cat_image(), calls))


def cat_image() -> bytes:
    return encode(photo("chelsea"))


def distinct_image(seed: int) -> bytes:
    """A photo with two pixels changed: another content hash, so no cache knows it yet.

    Saved as PNG: JPEG's quantisation smooths two changed pixels away, and seeds next to each
    other then gave the same bytes, which the cache answered."""
    image = photo("chelsea").convert("RGB").resize((256, 256))
    code = seed.to_bytes(6, "big")
    image.putpixel((0, 0), (code[0], code[1], code[2]))
    image.putpixel((1, 0), (code[3], code[4], code[5]))
    return encode(image, "PNG")


def fresh_seed() -> int:
    """Redis outlives a test run: a random seed keeps earlier runs' captions from answering."""
    return secrets.randbits(40)


def statuses(outcomes: list[Outcome]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


def query(database_url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def charged_calls(database_url: str, key_id: str) -> int:
    """Successful calls that paid, as the usage log records them."""
    rows = query(
        database_url,
        "SELECT count(*) FROM usage WHERE key_id = :key AND status = 200 AND credits > 0",
        key=key_id,
    )
    return int(str(rows[0][0]))


def balance(database_url: str, key_id: str) -> tuple[int, int]:
    """The key's (balance, allowance)."""
    sql = "SELECT balance, allowance FROM api_keys WHERE id = :key"
    rows = query(database_url, sql, key=key_id)
    return int(str(rows[0][0])), int(str(rows[0][1]))


def wait_until_charged(database_url: str, key_id: str, calls: int, timeout: float = 30) -> None:
    """Answers are charged just after they are sent, so the last charges of a burst may land a
    moment after its last answer arrived."""
    deadline = time.monotonic() + timeout
    while charged_calls(database_url, key_id) < calls:
        assert time.monotonic() < deadline, f"fewer than {calls} calls charged after {timeout}s"
        time.sleep(0.2)


def wait_until_no_reservation(database_url: str, key_id: str, timeout: float) -> None:
    """Reservations left by a dead process or a lost commit must be refunded by a janitor."""
    deadline = time.monotonic() + timeout
    while query(database_url, "SELECT 1 FROM reservations WHERE key_id = :key", key=key_id):
        assert time.monotonic() < deadline, f"reservations still held after {timeout}s"
        time.sleep(0.5)


def assert_books_balance(
    database_url: str, key_id: str, delivered: int, cost: int = 10, may_be_free: int = 0
) -> None:
    """Nobody paid for an answer they did not get, and the balance reflects exactly the charges.

    A charge is committed once its answer was handed over, so a crash or a database fault in that
    instant leaves an answer unpaid: ``may_be_free`` bounds how many (the calls in flight then).
    """
    charged = charged_calls(database_url, key_id)
    left, allowance = balance(database_url, key_id)
    assert delivered - may_be_free <= charged <= delivered, (delivered, charged)
    assert left == allowance - cost * charged


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.skip(f"PostgreSQL's {name} is not installed")
    return found[-1]


class OwnPostgres:
    """A PostgreSQL server of this test alone, so that stopping it disturbs nobody else."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="imagecaption-pg-"))
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(
            _postgres_bin("initdb"), "-D", str(self.root / "data"), "-U", "postgres", "-A", "trust"
        )

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_postgres, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"
        )

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class OwnRedis:
    """A redis-server of this test alone, killed and restarted at will."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if redis_answers(self.url):
                return
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

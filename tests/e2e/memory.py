"""Peak resident memory of a server process, read from Linux's /proc (VmHWM)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

LINUX = sys.platform.startswith("linux")


def _status_field(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"{field} not in /proc/{pid}/status")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process has held since start or the last reset."""
    return _status_field(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    return _status_field(pid, "VmRSS")


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (writing 5 to clear_refs, Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def post_in_parallel(url: str, key: str, bodies: list[bytes]) -> list[int]:
    """Upload every body at once, one connection each; return the statuses in order."""

    def post(body: bytes) -> int:
        with httpx.Client(timeout=300) as client:
            response = client.post(
                url + "/v1/imagecaption",
                headers={"X-API-Key": key},
                files={"image": ("image", body)},
            )
            return response.status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))

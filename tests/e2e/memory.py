"""Peak resident memory of a server process, read from Linux's /proc (VmHWM), and the uploads it
is measured with."""

from __future__ import annotations

import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from tests.conftest import encode, photo

LINUX = sys.platform.startswith("linux")
CAMERA_SIZE = (4000, 3000)


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


def camera_photos(count: int, tag: str = "camera photo") -> list[bytes]:
    """``count`` 12-megapixel JPEGs of 2 MB with the same pixels and distinct bytes (a comment
    of their own, after ``tag``), so that neither the cache nor a call in flight answers one for
    another."""
    picture = photo("chelsea").convert("RGB").resize(CAMERA_SIZE)
    grain = np.random.default_rng(0).integers(-8, 8, (*CAMERA_SIZE[::-1], 3), dtype=np.int16)
    pixels = (np.asarray(picture, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8)
    jpeg = encode(Image.fromarray(pixels), "JPEG", quality=90)
    bodies = []
    for number in range(count):  # spliced rather than encoded again: 64 encodes took seconds
        comment = f"{tag} {number}".encode()
        segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
        bodies.append(jpeg[:2] + segment + jpeg[2:])  # after the start-of-image marker
    return bodies

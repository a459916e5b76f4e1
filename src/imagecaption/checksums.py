"""The SHA-256 of a file, read in blocks: exported model folders are checked against their
manifest with it, and the benchmarks' fetched archives against the checksums on record."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()

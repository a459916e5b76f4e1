"""The peers' virtual environment: made once in the checkout, remade when its requirements
change."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("requirements.txt")
REPO_ROOT = Path(__file__).resolve().parents[2]
FOLDER = REPO_ROOT / ".venv-peers"
"""Ignored by git; beside the project's own .venv."""


def _fingerprint() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def peers_python(folder: Path = FOLDER) -> Path:
    """The peers' interpreter; the environment is made first if it is missing or out of date.

    Made from the interpreter running the benchmark (same Python version), with pip and the
    pinned requirements; a stamp of the requirements file tells whether it is up to date.
    """
    python = folder / "bin" / "python"
    stamp = folder / "requirements.sha256"
    if python.is_file() and stamp.is_file() and stamp.read_text() == _fingerprint():
        return python
    print(f"peers: making their virtual environment in {folder.name}/ (once)", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True
    )
    stamp.write_text(_fingerprint())
    print(
        f"peers: environment made in {time.perf_counter() - started:.0f} s, "
        f"{_size(folder) / 2**30:.1f} GiB",
        flush=True,
    )
    return python

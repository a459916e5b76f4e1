"""Fetched corpus sources: one fetch per archive, checked against its SHA-256, read as shipped.

The registry is replaced here by a local one that builds real tarballs and wheels, so these run
without a network; the corpus test fetches the real archives.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from benchmarks.quality import archives
from benchmarks.quality.archives import SourceUnavailable

from imagecaption.checksums import file_sha256

PICTURE = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes to find again"


def tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


class Registry:
    """Serves one archive per fetch, built by ``make``, and counts the fetches."""

    def __init__(self, tmp_path: Path, make: Callable[[Path], Path], suffix: str) -> None:
        self.original = make(tmp_path / f"original{suffix}")
        self.suffix = suffix
        self.fetches = 0

    def fetch(self, package: str, version: str, destination: Path) -> Path:
        self.fetches += 1
        target = destination / f"{package}-{version}{self.suffix}"
        target.write_bytes(self.original.read_bytes())
        return target

    @property
    def sha256(self) -> str:
        return file_sha256(self.original)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setattr(archives, "CACHE_DIR", folder)
    monkeypatch.setattr(archives, "_UNAVAILABLE", {})
    return folder


@pytest.fixture
def npm(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    members = {"package/demo/photo.jpg": PICTURE, "package/package.json": b"{}"}
    registry = Registry(tmp_path, lambda path: tarball(path, members), ".tgz")
    monkeypatch.setitem(archives.FETCHERS, "npm", registry.fetch)
    return registry


def test_a_member_is_read_from_the_fetched_tarball(npm: Registry) -> None:
    path = archives.extract("npm", "demo", "1.0.0", npm.sha256, "package/demo/photo.jpg")
    assert path.read_bytes() == PICTURE


def test_the_archive_is_fetched_once_and_then_read_from_the_cache(npm: Registry) -> None:
    for member in ["package/demo/photo.jpg", "package/package.json", "package/demo/photo.jpg"]:
        archives.extract("npm", "demo", "1.0.0", npm.sha256, member)
    assert npm.fetches == 1


def test_an_archive_with_another_checksum_is_refused_and_not_kept(
    npm: Registry, cache: Path
) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        archives.extract("npm", "demo", "1.0.0", "0" * 64, "package/demo/photo.jpg")
    assert not list(cache.rglob("*.tgz"))


def test_a_cached_archive_that_changed_is_refused(npm: Registry) -> None:
    archive = archives.fetch("npm", "demo", "1.0.0", npm.sha256)
    archive.write_bytes(archive.read_bytes() + b"tampered")
    with pytest.raises(ValueError, match="SHA-256"):
        archives.fetch("npm", "demo", "1.0.0", npm.sha256)


def test_a_member_the_archive_lacks_is_named(npm: Registry) -> None:
    with pytest.raises(FileNotFoundError, match=r"package/demo/missing\.jpg"):
        archives.extract("npm", "demo", "1.0.0", npm.sha256, "package/demo/missing.jpg")


@pytest.mark.parametrize("member", ["../outside.jpg", "/etc/passwd", "package/../../x.jpg"])
def test_a_member_path_cannot_leave_the_cache(npm: Registry, member: str) -> None:
    with pytest.raises(ValueError, match="not a path inside an archive"):
        archives.extract("npm", "demo", "1.0.0", npm.sha256, member)


def test_a_wheel_member_is_read_from_the_zip(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = {"demo/images/party.jpg": PICTURE}
    registry = Registry(tmp_path, lambda path: wheel(path, members), ".whl")
    monkeypatch.setitem(archives.FETCHERS, "wheel", registry.fetch)
    path = archives.extract("wheel", "demo", "2.0", registry.sha256, "demo/images/party.jpg")
    assert path.read_bytes() == PICTURE


@pytest.fixture
def zipped_gallery(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A wheel that ships its sample pictures as a zip file, as Mezzanine does."""
    gallery = wheel(tmp_path / "gallery.zip", {"Paris, France.jpg": PICTURE})
    members = {"demo/static/gallery.zip": gallery.read_bytes()}
    registry = Registry(tmp_path, lambda path: wheel(path, members), ".whl")
    monkeypatch.setitem(archives.FETCHERS, "wheel", registry.fetch)
    return registry


def test_a_picture_inside_a_zip_inside_the_wheel_is_read(zipped_gallery: Registry) -> None:
    sha256 = zipped_gallery.sha256
    for _ in range(2):
        path = archives.extract(
            "wheel", "demo", "2.0", sha256, "demo/static/gallery.zip", "Paris, France.jpg"
        )
        assert path.read_bytes() == PICTURE
    assert zipped_gallery.fetches == 1


def test_a_picture_the_inner_zip_lacks_is_named(zipped_gallery: Registry) -> None:
    with pytest.raises(FileNotFoundError, match=r"Rome\.jpg is not in gallery\.zip"):
        archives.extract(
            "wheel", "demo", "2.0", zipped_gallery.sha256, "demo/static/gallery.zip", "Rome.jpg"
        )


def test_a_path_inside_the_inner_zip_cannot_leave_the_cache(zipped_gallery: Registry) -> None:
    with pytest.raises(ValueError, match="not a path inside an archive"):
        archives.extract(
            "wheel", "demo", "2.0", zipped_gallery.sha256, "demo/static/gallery.zip", "../x.jpg"
        )


def test_an_unknown_kind_is_an_error(cache: Path) -> None:
    with pytest.raises(ValueError, match="unknown archive kind"):
        archives.fetch("apt", "demo", "1.0", "0" * 64)


def test_without_npm_the_source_is_unavailable_saying_why(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SourceUnavailable, match="npm is not installed"):
        archives.fetch("npm", "demo", "1.0.0", "0" * 64)


def test_a_failing_registry_client_makes_the_source_unavailable(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreachable registry shows as the client's failure, whose last words are kept."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "npm"
    fake.write_text("#!/bin/sh\necho 'npm error network request failed' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(SourceUnavailable, match="network request failed"):
        archives.fetch("npm", "demo", "1.0.0", "0" * 64)


def test_a_registry_out_of_reach_is_asked_once_per_run(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many cases share one archive: without a network, each must not wait on the client again."""
    calls: list[str] = []

    def unreachable(package: str, version: str, destination: Path) -> Path:
        calls.append(package)
        raise SourceUnavailable("npm pack demo@1.0.0 failed: ECONNREFUSED")

    monkeypatch.setitem(archives.FETCHERS, "npm", unreachable)
    for member in ["package/a.jpg", "package/b.jpg"]:
        with pytest.raises(SourceUnavailable, match="ECONNREFUSED"):
            archives.extract("npm", "demo", "1.0.0", "0" * 64, member)
    assert calls == ["demo"]

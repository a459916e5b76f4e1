"""The quality corpus's Debian sources: fetched at the exact version, checked, unpacked once.

These talk to the real apt and dpkg and fetch real packages (a small one, and the one most cases
use, which the corpus test fetches anyway); where apt cannot fetch them here they skip, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.quality import debian, qt_resources
from benchmarks.quality.photos import SourceUnavailable, load_cases, locate

# The smallest package the corpus uses, with an epoch in its version.
PALAPELI = debian.Package(
    "palapeli-data",
    "4:22.12.3-1",
    "all",
    "69a15dce2ac25ed8708ac518cd0cee5f4eb0c70ed15da2fdb8899a19ac0ee058",
)
CITRUS = "usr/share/palapeli/collection/citrus-fruits.jpg"


def _or_skip(package: debian.Package, path: str, cache: Path | None = None) -> Path:
    try:
        return debian.locate(package, path, cache=cache)
    except debian.Unavailable as error:
        pytest.skip(f"apt cannot fetch {package.name} here: {error}")


def test_a_package_is_fetched_checked_and_unpacked_into_the_cache(tmp_path: Path) -> None:
    picture = _or_skip(PALAPELI, CITRUS, cache=tmp_path)
    assert picture.is_relative_to(tmp_path / "palapeli-data_4%3a22.12.3-1_all" / "root")
    assert picture.read_bytes()[:3] == b"\xff\xd8\xff", "a JPEG"
    assert not list(tmp_path.rglob("*.deb")), "the .deb is not kept once unpacked"


def test_a_second_use_needs_no_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _or_skip(PALAPELI, CITRUS, cache=tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    assert debian.locate(PALAPELI, CITRUS, cache=tmp_path) == first


def test_a_package_whose_bytes_differ_from_the_record_is_refused(tmp_path: Path) -> None:
    tampered = debian.Package(PALAPELI.name, PALAPELI.version, PALAPELI.architecture, "0" * 64)
    try:
        with pytest.raises(ValueError, match=r"not the 0{64} on record"):
            debian.locate(tampered, CITRUS, cache=tmp_path)
    except debian.Unavailable as error:
        pytest.skip(f"apt cannot fetch {PALAPELI.name} here: {error}")
    assert not (tmp_path / tampered.key / "root").exists(), "nothing unpacked"


def test_without_apt_a_case_is_unavailable_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    package = debian.Package("no-such-package-here", "1.0-1", "all", "0" * 64)
    with pytest.raises(debian.Unavailable, match="apt-get is not on this machine"):
        debian.locate(package, "usr/share/x.jpg", cache=tmp_path)


def test_a_corpus_case_of_an_unfetchable_package_is_skipped_with_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(debian, "cache_root", lambda: tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    case = next(case for case in load_cases() if case.source.kind == "debian")
    with pytest.raises(SourceUnavailable, match=f"^{case.id}: .*apt-get is not on this machine"):
        locate(case)


def test_a_resource_bundle_member_is_read_out_compressed_or_not() -> None:
    cases = [case for case in load_cases() if case.member is not None]
    assert cases, "the corpus has pictures inside Qt resource bundles"
    case = cases[0]
    assert case.member is not None
    try:
        picture = locate(case)
    except SourceUnavailable as error:
        pytest.skip(str(error))
    assert picture.read_bytes()[8:12] == b"WEBP"
    bundle = next(parent for parent in picture.parents if parent.name == "members").parent
    bundle /= "root/" + case.path
    files = dict(qt_resources.members(bundle.read_bytes()))
    # Pictures are stored as they are; of the QML files some are stored zlib-compressed (where
    # that saves enough), and every one reads back as the text GCompris wrote.
    qml = [name for name in files if name.endswith(".qml")]
    assert len(qml) >= 2
    assert all(
        files[name].startswith(b"/* GCompris - " + name.rsplit("/", 1)[-1].encode()) for name in qml
    )
    assert files[case.member.strip("/")] == picture.read_bytes()


def test_a_missing_member_or_a_file_that_is_no_bundle_is_a_clear_error(tmp_path: Path) -> None:
    not_a_bundle = tmp_path / "x.rcc"
    not_a_bundle.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not a Qt resource bundle"):
        qt_resources.read(not_a_bundle, "a.png")
    case = next(case for case in load_cases() if case.member is not None)
    try:
        picture = locate(case)
    except SourceUnavailable as error:
        pytest.skip(str(error))
    bundle = next(parent for parent in picture.parents if parent.name == "members").parent
    with pytest.raises(KeyError, match=r"nothing\.webp is not in"):
        qt_resources.read(bundle / "root" / case.path, "gcompris/nothing.webp")

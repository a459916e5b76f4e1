"""An exported model folder, served with ONNX Runtime, NumPy, Pillow and ``tokenizers`` only.

``imagecaption models export`` (the models install) writes the folder once: the two ONNX graphs
of the onnx backend, the tokenizer as ``tokenizer.json``, the image pre-processing and the
generation settings as JSON, and ``manifest.json`` (the source, its revision, the format version
and every file's size and SHA-256). The base install serves it without torch or transformers, so
a server needs neither the models extra (1.4 GB) nor an export at start.

A folder is checked before the server starts: the manifest must be there and readable, of a
format this version reads, and every file it lists present with its size, so a partial copy is
refused at once with one line naming what is missing; loading also compares the checksums.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagecaption.checksums import file_sha256
from imagecaption.models.base import ModelError
from imagecaption.models.hf.captioner import DecodingCaptioner, Loaded
from imagecaption.models.hf.onnx_graphs import Export, OnnxRuntime
from imagecaption.models.hf.preprocessing import ImagePreprocessing

MANIFEST = "manifest.json"
FORMAT = "imagecaption-onnx-export"
FORMAT_VERSION = 1
"""Bump when an older server could not serve a newer folder correctly."""
PROCESSING = "processing.json"
TOKENIZER = "tokenizer.json"
REQUIRED = ("prefill.onnx", "step.onnx", "spec.json", "export.json", PROCESSING, TOKENIZER)
"""What every export holds besides its manifest."""


@dataclass(frozen=True)
class Manifest:
    source: str
    revision: str | None
    model_type: str
    precision: str
    files: dict[str, dict[str, Any]]
    """File name to ``{"bytes": n, "sha256": hex}``."""


def is_exported(folder: Path) -> bool:
    """Whether ``folder`` is meant to be an export (it may still be broken: ``check_exported``)."""
    return (folder / MANIFEST).is_file() or (
        (folder / "prefill.onnx").is_file() and not (folder / "config.json").is_file()
    )


def check_exported(
    folder: Path, kind: str = FORMAT, required: tuple[str, ...] = REQUIRED
) -> Manifest:
    """The folder's manifest, or a one-line ModelError saying what is missing or wrong.

    ``kind`` and ``required`` are those of exported captioning models by default; exported
    translation models (``models/translation``) have their own."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(
            f"{folder.name} has no {MANIFEST}: it is not a complete export "
            "(write one with 'imagecaption models export')."
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder.name}/{MANIFEST} cannot be read: {_line(exc)}") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        raise ModelError(f"{folder.name}/{MANIFEST} is not the manifest of an exported model.")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{folder.name} is an export of format version {version}; this version of "
            f"imagecaption serves version {FORMAT_VERSION}: export the model again."
        )
    try:
        manifest = Manifest(
            source=str(data["source"]),
            revision=data.get("revision"),
            model_type=str(data["model_type"]),
            precision=str(data["precision"]),
            files={str(name): dict(entry) for name, entry in data["files"].items()},
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ModelError(f"{folder.name}/{MANIFEST} lacks {_line(exc)}.") from None
    missing = [name for name in required if name not in manifest.files]
    missing += [name for name in manifest.files if not (folder / name).is_file()]
    if missing:
        raise ModelError(f"{folder.name} is incomplete: {', '.join(missing)} missing.")
    wrong = [
        name
        for name, entry in manifest.files.items()
        if (folder / name).stat().st_size != entry.get("bytes")
    ]
    if wrong:
        raise ModelError(
            f"{folder.name} is incomplete: {', '.join(wrong)} not of the size in {MANIFEST} "
            "(truncated or changed)."
        )
    return manifest


def verify_checksums(folder: Path, manifest: Manifest) -> None:
    """Every file's SHA-256 against the manifest's; reads each file once."""
    damaged = [
        name
        for name, entry in manifest.files.items()
        if file_sha256(folder / name) != entry.get("sha256")
    ]
    if damaged:
        raise ModelError(
            f"{folder.name}: {', '.join(damaged)} does not match its checksum in {MANIFEST} "
            "(damaged or changed)."
        )


def _line(exc: Exception) -> str:
    return " ".join(str(exc).split())


class Detokenizer:
    """Token ids to text as the transformers tokenizer's ``decode(skip_special_tokens=True)``:
    the same ``tokenizers`` model, then the space clean-up it applies (the export records
    whether it does)."""

    def __init__(self, path: Path, clean_up_spaces: bool) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._clean_up = clean_up_spaces

    def __call__(self, tokens: list[int]) -> str:
        text: str = self._tokenizer.decode(tokens, skip_special_tokens=True)
        return clean_up_spaces(text) if self._clean_up else text


def clean_up_spaces(text: str) -> str:
    """transformers' ``clean_up_tokenization``: WordPiece's spaces before punctuation."""
    for spaced, joined in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(spaced, joined)
    return text


class ExportedCaptioner(DecodingCaptioner):
    """An exported folder on ONNX Runtime: the onnx backend's graphs and decoding, without torch.

    The folder is checked (manifest, files, sizes) when this is made and again, with the
    checksums, when it loads.
    """

    def __init__(self, name: str, folder: Path, threads: int, *, spin: bool = False) -> None:
        super().__init__(name, "onnx", "cpu")
        self._folder = folder
        self._threads = threads
        self._spin = spin
        check_exported(folder)

    def _open(self) -> Loaded:
        folder = self._folder
        manifest = check_exported(folder)
        verify_checksums(folder, manifest)
        try:
            processing = json.loads((folder / PROCESSING).read_text())
            image = ImagePreprocessing.from_dict(processing["image"])
            detokenize = Detokenizer(
                folder / TOKENIZER, bool(processing["text"]["clean_up_tokenization_spaces"])
            )
            export = Export.read(folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{folder.name} cannot be loaded: {_line(exc)}") from None
        return Loaded(
            image, detokenize, OnnxRuntime(export, self._threads, spin=self._spin), export.spec
        )

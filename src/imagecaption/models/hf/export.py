"""``imagecaption models export``: a model folder or hub id written once as an exported folder
(see ``exported``) that the base install serves without torch or transformers.

The graphs are the onnx backend's own export (``onnx_backend``), int8 or float32, so an exported
folder writes exactly the captions that backend writes; what the server would otherwise read from
the model folder through transformers (image pre-processing, tokenizer, generation settings) is
saved beside them as plain files. The folder is made beside its destination and renamed into
place, so an interrupted export leaves nothing that looks complete.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

from imagecaption.checksums import file_sha256
from imagecaption.models import hub
from imagecaption.models.base import ModelError
from imagecaption.models.hf.exported import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PROCESSING,
    TOKENIZER,
)
from imagecaption.models.hf.folder import check_folder, load_processors
from imagecaption.models.hf.onnx_backend import build_once, export_graphs
from imagecaption.models.hf.preprocessing import from_processor
from imagecaption.models.translation.translator import translation_type
from imagecaption.settings import Settings

LIBRARIES = ("imagecaption", "torch", "transformers", "onnx", "onnxruntime")


def export_model(source: str, out: Path, quantize: bool, settings: Settings) -> Path:
    """Write ``source`` (a model folder or a hub id, downloaded if need be) to ``out``."""
    if out.exists():
        raise ModelError(f"{out} already exists; remove it first or choose another --out.")
    folder, name, revision = locate_source(source, settings)
    precision = "int8" if quantize else "float32"
    if translation_type(folder) is not None:
        from imagecaption.models.translation.export import export_translation

        return build_once(
            out,
            lambda work: export_translation(folder, work, name, revision, quantize),
            f"exporting {name} ({precision})",
        )
    architecture = check_folder(folder)
    processors = load_processors(folder, architecture)
    image = from_processor(_pil_processor(folder, processors.image))
    clean_up = _cleans_up_spaces(processors.tokenizer)

    def build(work: Path) -> None:
        export_graphs(folder, architecture, processors, work, quantize)
        processors.tokenizer.backend_tokenizer.save(str(work / TOKENIZER))
        processing = {"image": image.as_dict(), "text": {"clean_up_tokenization_spaces": clean_up}}
        (work / PROCESSING).write_text(json.dumps(processing, indent=1))
        write_manifest(work, name, revision, architecture.model_types[0], quantize)
        work.chmod(0o755)  # made private by mkdtemp; servers often run as another user

    return build_once(out, build, f"exporting {name} ({precision})")


def locate_source(source: str, settings: Settings) -> tuple[Path, str, str | None]:
    """The model's folder, the name it goes by, and its revision: the hub commit, or a digest of
    a folder's files (a folder's path names this machine, so it is not written down)."""
    given = Path(source).expanduser()
    if given.is_dir():
        return given, given.resolve().name, f"sha256:{_folder_digest(given)}"
    if not hub.looks_like_hub_id(source):
        raise ModelError(f"{source!r} is neither a model folder nor a model-hub id.")
    folder = hub.find_local(source, settings.data_dir) or hub.download(
        source, settings.hub_timeout_seconds
    )
    revision = folder.name if folder.parent.name == "snapshots" else None
    return folder, source, revision


def _pil_processor(folder: Path, processor: Any) -> Any:
    """The Pillow form of the image processor, which ``preprocessing`` redoes; the torchvision
    form (used where torchvision is installed) resizes with other filters."""
    from transformers import AutoImageProcessor
    from transformers.image_processing_backends import PilBackend

    if isinstance(processor, PilBackend):
        return processor
    try:
        return cast(Any, AutoImageProcessor).from_pretrained(folder, backend="pil")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"Cannot load the image processor in {folder}: {exc}") from exc


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(f"{file.name}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def _cleans_up_spaces(tokenizer: Any) -> bool:
    """Whether ``tokenizer.decode`` applies transformers' clean-up of spaces before punctuation
    (it skips it for BPE vocabularies unless told otherwise)."""
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ModelError(f"The tokenizer {type(tokenizer).__name__} has no tokenizer.json form.")
    if not getattr(tokenizer, "clean_up_tokenization_spaces", False):
        return False
    bpe = type(tokenizer.backend_tokenizer.model).__name__ == "BPE"
    forced = getattr(
        tokenizer, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", False
    )
    return not bpe or bool(forced)


def write_manifest(
    work: Path,
    name: str,
    revision: str | None,
    model_type: str,
    quantize: bool,
    kind: str = FORMAT,
) -> None:
    """``manifest.json``: what the folder is, where it came from, and every file's checksum."""
    files = {
        file.name: {"bytes": file.stat().st_size, "sha256": file_sha256(file)}
        for file in sorted(work.iterdir())
        if file.is_file()
    }
    manifest = {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "source": name,
        "revision": revision,
        "model_type": model_type,
        "precision": "int8" if quantize else "float32",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "created_with": {library: version(library) for library in LIBRARIES},
        "files": files,
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=1))

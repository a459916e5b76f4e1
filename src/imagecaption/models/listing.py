"""What ``imagecaption models list`` and ``models pull`` report, apart from printing it."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imagecaption.models import hub
from imagecaption.models.auto import choose
from imagecaption.models.base import ModelError
from imagecaption.models.registry import BACKENDS, models_extra_installed
from imagecaption.settings import Settings


@dataclass(frozen=True)
class Row:
    name: str
    source: str
    model_type: str
    path: str
    serving: bool


@dataclass(frozen=True)
class Listing:
    serving: str
    fallback: str | None
    models: list[Row]
    languages: list[str]
    """What the serving model captions in (English first)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_models(settings: Settings) -> Listing:
    """Built-in captioners and the models on this machine, marking the one that would serve.

    Decided without the network: an ``auto`` full model that is not downloaded is shown as the
    fallback's reason, though ``serve`` would first try to download it.
    """
    serving, fallback = _serving(settings)
    rows = [Row(name, "built in", "-", "-", name == serving) for name in BACKENDS]
    for found in hub.list_local(settings.data_dir):
        rows.append(
            Row(
                found.name,
                found.source,
                found.model_type or "-",
                str(found.path),
                found.name == serving or str(found.path) == serving,
            )
        )
    return Listing(serving, fallback, rows, _languages(settings, serving))


def _languages(settings: Settings, serving: str) -> list[str]:
    """The built-in captioner's own languages; a full model's English and the translations on
    this machine, as ``serve`` would offer them."""
    if serving in BACKENDS:
        return list(BACKENDS[serving](settings).info.languages)
    from imagecaption.models.translation.sources import available_translations

    return ["en", *(source.language for source in available_translations(settings))]


def _serving(settings: Settings) -> tuple[str, str | None]:
    if settings.model in BACKENDS:
        return settings.model, None
    if settings.model != "auto":
        return settings.model, None
    choice = choose(settings.full_model, settings.data_dir, None, models_extra_installed())
    if choice.kind == "offline":
        reason = choice.reason
        if choice.folder is None and models_extra_installed():
            reason = f"{reason}; serve will try to download it if the model hub is reachable"
        return "offline", reason
    return choice.model, None


def pull(source: str, settings: Settings) -> Path:
    """Download a hub model into the hub cache, or import a folder into ``<data_dir>/models``.

    Either way the result is checked like a model about to be served, so a broken download or
    folder is reported now rather than when the server starts. An exported folder, or a hub
    repository in the ready ONNX layout, needs no extra: the base install pulls and checks it.
    """
    from imagecaption.models.hf.exported import check_exported, is_exported
    from imagecaption.models.hf.ready_onnx import check_ready_onnx, is_ready_onnx
    from imagecaption.models.translation.translator import (
        check_translation_export,
        is_translation_export,
    )

    given = Path(source).expanduser()
    ready = given.is_dir() and is_ready_onnx(given)
    exported = given.is_dir() and (is_exported(given) or ready)
    extra = models_extra_installed()
    if given.is_dir() and not exported and not extra:
        raise ModelError("Models need the 'models' extra: pip install 'imagecaption[models]'.")
    if given.is_dir():
        if ready:
            check_ready_onnx(given, settings.quantize)
        elif is_translation_export(given):
            check_translation_export(given)
        elif exported:
            check_exported(given)
        else:
            _check(given)
        target = hub.local_models_dir(settings.data_dir) / given.resolve().name
        if target.resolve() != given.resolve():
            if target.exists():
                raise ModelError(f"{target} already exists; remove it first to replace it.")
            shutil.copytree(given, target)
        return target
    if not hub.looks_like_hub_id(source):
        raise ModelError(
            f"{source!r} is neither a model folder nor a model-hub id (such as "
            f"{settings.full_model})."
        )
    # Without the extra, only a repository in the ready ONNX layout can serve: download() checks
    # its file list first and refuses any other before fetching its weights.
    folder = hub.download(source, settings.hub_timeout_seconds, ready_only=not extra)
    if is_ready_onnx(folder):
        check_ready_onnx(folder, settings.quantize)
    else:
        _check(folder)
    return folder


def pull_translations(settings: Settings) -> list[Path]:
    """Every translation model in ``translation_models`` (each once, whatever languages it
    serves), fetched or imported like ``pull``."""
    return [
        pull(source, settings) for source in dict.fromkeys(settings.translation_models.values())
    ]


def _check(folder: Path) -> None:
    from imagecaption.models.translation.translator import translation_type

    if translation_type(folder) is not None:
        _check_translation(folder)
        return
    from imagecaption.models.hf.folder import check_folder  # transformers: seconds to import

    check_folder(folder)


def _check_translation(folder: Path) -> None:
    """A translation model folder with what its export reads: the weights and the tokenizer."""
    weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
    tokenizer = (folder / "tokenizer.json").is_file() or all(
        (folder / name).is_file() for name in ("source.spm", "target.spm", "vocab.json")
    )
    if not weights or not tokenizer:
        missing = [
            what for what, there in (("weights", weights), ("tokenizer", tokenizer)) if not there
        ]
        raise ModelError(f"{folder.name} is incomplete: its {' and '.join(missing)} missing.")

"""Which captioner serves, and on which runtime; adding either is one entry here.

``model`` is ``auto``, a built-in captioner (``offline``), a model-hub id, a model folder, an
exported folder (``imagecaption models export``) or a ready ONNX export in the Optimum /
transformers.js layout. Full models run on a runtime from ``RUNTIMES``.
transformers and its companions are an optional extra, imported only once a full model is asked
for; an exported folder needs none of them (ONNX Runtime and ``tokenizers`` only).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from imagecaption.models import hub
from imagecaption.models.auto import FallbackCaptioner, choose
from imagecaption.models.base import Captioner, ModelError
from imagecaption.models.cpu_features import has_amx_bf16
from imagecaption.models.cpus import usable_cpus
from imagecaption.settings import Settings

if TYPE_CHECKING:
    from imagecaption.models.hf.captioner import Backend

log = logging.getLogger(__name__)


def _offline(settings: Settings) -> Captioner:
    from imagecaption.models.offline import OfflineCaptioner

    return OfflineCaptioner(threads=_threads(settings), objects=settings.offline_objects)


BACKENDS: dict[str, Callable[[Settings], Captioner]] = {
    "offline": _offline,
}


def _threads(settings: Settings) -> int:
    return settings.inference_threads or usable_cpus()


def _torch(settings: Settings) -> Backend:
    from imagecaption.models.hf.torch_backend import TorchBackend

    return TorchBackend(settings.device, settings.dtype, _threads(settings))


def _cpu_only(settings: Settings, backend: str) -> None:
    if settings.device == "cuda":
        raise ModelError(f"The {backend} backend runs on the CPU; for a GPU, use backend = torch.")


def _onnx(settings: Settings) -> Backend:
    from imagecaption.models.hf.onnx_backend import OnnxBackend

    _cpu_only(settings, "onnx")
    cache = hub.local_models_dir(settings.data_dir) / "onnx"
    return OnnxBackend(
        cache,
        settings.quantize,
        _threads(settings),
        spin=settings.full_model_spin_wait,
        bf16_prefill=_bf16_prefill(settings),
    )


def _needs_openvino_extra(setting: str, *modules: str) -> None:
    if any(importlib.util.find_spec(module) is None for module in modules):
        raise ModelError(
            f"{setting} needs the 'openvino' extra: pip install 'imagecaption[openvino]'."
        )


def _bf16_prefill(settings: Settings) -> bool:
    """Whether the onnx backend's prefill runs on OpenVINO in bfloat16 (``prefill_runtime``),
    with a line in the log either way on a CPU where it would pay."""
    wanted = settings.prefill_runtime == "openvino"
    if wanted:
        _needs_openvino_extra("prefill_runtime = openvino", "openvino")
    if wanted and not settings.quantize:
        log.info("prefill_runtime = openvino applies to int8 (quantize = true); float32 stays")
    elif not wanted and has_amx_bf16():
        log.info(
            "this CPU has AMX: prefill_runtime = openvino would run the prefill in bfloat16 "
            "on it (about a third faster on GIT-base at batch 8), with captions no longer "
            "token for token those of the int8 prefill"
        )
    return wanted


def _openvino(settings: Settings) -> Backend:
    _cpu_only(settings, "openvino")
    _needs_openvino_extra("backend = openvino", "openvino", "nncf")
    from imagecaption.models.hf.openvino_backend import OpenVinoBackend

    cache = hub.local_models_dir(settings.data_dir) / "openvino"
    return OpenVinoBackend(cache, settings.quantize, _threads(settings))


RUNTIMES: dict[str, Callable[[Settings], Backend]] = {
    "torch": _torch,
    "onnx": _onnx,
    "openvino": _openvino,
}


def runtime_name(settings: Settings) -> str:
    """``auto`` means torch where a CUDA GPU is, onnx (int8 on the CPU) everywhere else.

    onnx rather than openvino even where OpenVINO is installed: on a 2-core AVX-512/VNNI CPU,
    GIT-base's int8 prefill took 113 ms on onnxruntime against 145 ms on OpenVINO at batch 1
    (867 / 994 ms at batch 8), and a decoding step 5.3 / 11.6 ms against 5.5 / 16.6 ms (batch 1 /
    8, best of 10 interleaved runs); whole 20-token captions took 206 ms against 246 ms (batch 1)
    and 1071 against 1288 ms (batch 8). In float32 the two were level. OpenVINO's
    int8 is the more faithful one (see ``hf/openvino_backend``), which is a reason to pick it by
    name, not the fastest runtime that ``auto`` promises.
    """
    if settings.backend != "auto":
        return settings.backend
    if settings.device != "auto":
        return "torch" if settings.device == "cuda" else "onnx"
    import torch

    return "torch" if torch.cuda.is_available() else "onnx"


def models_extra_installed() -> bool:
    return importlib.util.find_spec("transformers") is not None


def create_captioner(settings: Settings) -> Captioner:
    """The configured captioner, not loaded yet; a model that cannot serve raises ModelError."""
    if settings.model in BACKENDS:
        return BACKENDS[settings.model](settings)
    if settings.model == "auto":
        return _auto(settings)
    exported = _exported_folder(settings, settings.model)
    if exported is not None:
        return _exported(settings, _name(settings.model, exported), exported)
    return _full(settings, *_locator(settings, settings.model))


def _exported_folder(settings: Settings, reference: str) -> Path | None:
    """The folder ``reference`` names when it is an exported model or a ready ONNX export in the
    Optimum / transformers.js layout, else None."""
    from imagecaption.models.hf.exported import is_exported
    from imagecaption.models.hf.ready_onnx import is_ready_onnx

    folder = hub.find_local(reference, settings.data_dir)
    if folder is None or not (is_exported(folder) or is_ready_onnx(folder)):
        return None
    return folder


def _exported(settings: Settings, name: str, folder: Path) -> Captioner:
    """An exported folder runs on ONNX Runtime alone: the onnx backend's graphs, on the CPU; so
    does a ready ONNX export (its int8 variant when ``quantize`` is on and it has one)."""
    from imagecaption.models.hf.exported import ExportedCaptioner
    from imagecaption.models.hf.ready_onnx import ReadyOnnxCaptioner, is_ready_onnx

    if settings.backend not in ("auto", "onnx"):
        raise ModelError(
            f"{name} is an exported model, served by the onnx backend only; "
            f"backend = {settings.backend} needs the model folder it was exported from."
        )
    _cpu_only(settings, "onnx")
    threads, spin = _threads(settings), settings.full_model_spin_wait
    if is_ready_onnx(folder):
        ready = ReadyOnnxCaptioner(name, folder, settings.quantize, threads, spin=spin)
        return _reading(settings, ready)
    return _reading(settings, ExportedCaptioner(name, folder, threads, spin=spin))


def check_model(settings: Settings) -> None:
    """Refuse, before the server starts, a model or runtime setting that cannot serve.

    ``auto`` and the built-in captioners always have something to serve; a runtime that cannot
    run here (a GPU that is not there) is refused whatever the model. A runtime left to ``auto``
    always can, and is not checked: finding out imports torch, which took about 250 MB of an
    offline server's memory where the models extra was installed but no full model was served.
    """
    if settings.model in BACKENDS:
        return
    if settings.model != "auto" and _exported_folder(settings, settings.model) is not None:
        create_captioner(settings)  # checks the folder and the backend; loads nothing
        return
    runtime_chosen = settings.backend != "auto" or settings.device != "auto"
    if runtime_chosen and models_extra_installed():
        RUNTIMES[runtime_name(settings)](settings)
    if settings.model != "auto":
        _locator(settings, settings.model)


def _full(settings: Settings, name: str, locate: Callable[[], Path]) -> Captioner:
    from imagecaption.models.hf.captioner import TransformersCaptioner

    full = TransformersCaptioner(name, locate, RUNTIMES[runtime_name(settings)](settings))
    return _reading(settings, full)


def _reading(settings: Settings, full: Captioner) -> Captioner:
    """``full``, answering in the configured languages it has translations for, and quoting
    the words read in pictures if asked to (quotes stay as read: they go in after translating).
    """
    full = _translating(settings, full)
    if not settings.full_model_reads_text:
        return full
    from imagecaption.models.reading import TextReadingCaptioner

    return TextReadingCaptioner(full, _threads(settings))


def _translating(settings: Settings, full: Captioner) -> Captioner:
    from imagecaption.models.translation.captioner import TranslatingCaptioner
    from imagecaption.models.translation.sources import available_translations, open_translator

    sources = available_translations(settings)
    if not sources:
        return full
    threads = _threads(settings)
    return TranslatingCaptioner(
        full,
        sources,
        lambda source: open_translator(source, settings, threads),
        settings.translation_beams,
    )


def _locator(settings: Settings, reference: str) -> tuple[str, Callable[[], Path]]:
    """The model's name, and how to get its folder: it is here (checked now), or it can be
    downloaded. A folder is named by its last part, so that responses never show local paths."""
    if not models_extra_installed():
        raise ModelError(
            f"Serving {reference} needs the 'models' extra: pip install 'imagecaption[models]'."
        )
    folder = hub.find_local(reference, settings.data_dir)
    if folder is not None:
        from imagecaption.models.hf.folder import check_folder

        check_folder(folder)
        return _name(reference, folder), lambda: folder
    if not hub.looks_like_hub_id(reference):
        raise ModelError(
            f"{reference!r} is not a model folder, a folder name in "
            f"{hub.local_models_dir(settings.data_dir)}, or a model-hub id such as "
            f"{settings.full_model}."
        )
    timeout = settings.hub_timeout_seconds
    unreachable = hub.hub_unreachable(timeout)
    if unreachable:
        raise ModelError(
            f"{reference} is not downloaded and {unreachable}. Run 'imagecaption models pull "
            f"{reference}' where the hub is reachable, or pass the path of a model folder."
        )
    return reference, lambda: hub.download(reference, timeout)


def _auto(settings: Settings) -> Captioner:
    timeout = settings.hub_timeout_seconds
    choice = choose(settings.full_model, settings.data_dir, timeout, models_extra_installed())

    def offline() -> Captioner:
        return _offline(settings)

    if choice.kind == "offline":
        return FallbackCaptioner(None, offline, choice.reason)
    folder = choice.folder
    if choice.exported and folder is not None:
        try:
            exported = _exported(settings, _name(choice.model, folder), folder)
        except ModelError as exc:  # auto promises a captioner: a backend it cannot run on
            return FallbackCaptioner(None, offline, str(exc))
        return FallbackCaptioner(exported, offline, None)

    def locate() -> Path:
        return folder if folder is not None else hub.download(choice.model, timeout)

    name = _name(choice.model, folder) if folder is not None else choice.model
    return FallbackCaptioner(_full(settings, name, locate), offline, None)


def _name(reference: str, folder: Path) -> str:
    """A hub id, or a folder's last part: responses must never show a path of the machine."""
    return folder.name if Path(reference).expanduser().is_dir() else reference

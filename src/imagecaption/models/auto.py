"""``--model auto``: the full model when it can be had, else the offline captioner, and why.

The choice is made in three steps, none of which waits long: the configured full model on this
machine (hub cache or folder) serves at once; failing that, if the hub answers within a short
timeout, the model is downloaded while the server starts (``/healthz`` answers meanwhile, and
``/readyz`` once it is loaded); otherwise, or if the download fails, the offline captioner serves,
and the reason is logged, shown in ``/readyz`` (``model.fallback``) and in ``models list``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from imagecaption.models import hub
from imagecaption.models.base import (
    Caption,
    Captioner,
    CaptionOptions,
    ModelError,
    ModelInfo,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    kind: Literal["local", "download", "offline"]
    model: str
    folder: Path | None = None
    reason: str | None = None
    """Why the offline captioner serves instead of ``model``."""
    exported: bool = False
    """``folder`` is an exported model (served without the models extra)."""


def choose(
    full_model: str, data_dir: Path, hub_timeout: float | None, extra_installed: bool
) -> Choice:
    """What ``auto`` serves; ``hub_timeout=None`` decides without the network (for listings)."""
    exported = _exported_choice(full_model, data_dir)
    if exported is not None:
        return exported
    if not extra_installed:
        return Choice(
            "offline",
            full_model,
            reason="the 'models' extra is not installed (pip install 'imagecaption[models]')",
        )
    folder = hub.find_local(full_model, data_dir)
    if folder is not None:
        from imagecaption.models.hf.folder import check_folder

        try:
            check_folder(folder)
        except ModelError as exc:
            return Choice("offline", full_model, folder, f"{full_model} is unusable: {exc}")
        return Choice("local", full_model, folder)
    if hub_timeout is None:
        return Choice("offline", full_model, reason=f"{full_model} is not downloaded")
    unreachable = hub.hub_unreachable(hub_timeout)
    if unreachable:
        return Choice(
            "offline",
            full_model,
            reason=f"{full_model} is not downloaded and {unreachable}; "
            f"run 'imagecaption models pull {full_model}' where the hub is reachable",
        )
    return Choice("download", full_model)


def _exported_choice(full_model: str, data_dir: Path) -> Choice | None:
    """``full_model`` as an exported folder (a path, or a name in ``<data_dir>/models``)."""
    from imagecaption.models.hf.exported import check_exported, is_exported
    from imagecaption.models.hf.ready_onnx import check_ready_onnx, is_ready_onnx

    given = Path(full_model).expanduser()
    named = hub.local_models_dir(data_dir) / full_model
    folder = given if given.is_dir() else named if "/" not in full_model else None
    if folder is None and hub.looks_like_hub_id(full_model):
        cached = hub.find_local(full_model, data_dir)  # a ready ONNX repository in the hub cache
        folder = cached if cached is not None and is_ready_onnx(cached) else None
    if folder is None or not folder.is_dir():
        return None
    ready = is_ready_onnx(folder)
    if not ready and not is_exported(folder):
        return None
    try:
        if ready:
            check_ready_onnx(folder, quantize=False)  # complete in some variant
        else:
            check_exported(folder)
    except ModelError as exc:
        return Choice("offline", full_model, folder, f"{full_model} is unusable: {exc}")
    return Choice("local", full_model, folder, exported=True)


class FallbackCaptioner(Captioner):
    """Serves ``primary`` if it loads, else ``fallback``; ``info.fallback`` says why."""

    def __init__(
        self, primary: Captioner | None, fallback: Callable[[], Captioner], reason: str | None
    ) -> None:
        self._primary = primary
        self._fallback = fallback()
        self._reason = reason
        self._active: Captioner = primary or self._fallback

    @property
    def info(self) -> ModelInfo:
        info = self._active.info
        if self._active is self._fallback:
            return dataclasses.replace(info, fallback=self._reason)
        return info

    def load(self) -> None:
        if self._primary is not None:
            try:
                self._primary.load()
                return
            except Exception as exc:  # auto promises a captioner: any failure falls back
                log.exception("the full model failed to load")
                self._reason = f"{self._primary.info.name} could not be loaded: {exc}"
        log.warning("serving the offline captioner: %s", self._reason)
        self._active = self._fallback
        self._active.load()

    def warmup(self) -> None:
        self._active.warmup()

    def check_options(self, options: CaptionOptions) -> None:
        self._active.check_options(options)

    def preprocess(self, image: Image.Image) -> Any:
        return self._active.preprocess(image)

    def caption_prepared(self, inputs: Sequence[Any], options: CaptionOptions) -> list[Caption]:
        return self._active.caption_prepared(inputs, options)

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return self._active.caption_batch(images, options)

"""A model's image pre-processing over Pillow and NumPy, from settings saved as JSON.

An exported model is served without transformers, so the few steps its image processor takes
(convert to RGB, resize, centre crop, rescale, normalise) are redone here from the processor's
own settings, in the same order, with the same Pillow filter and the same float arithmetic: the
pixels equal the processor's (tested against it). The processors these models use (CLIP's, BLIP's,
ViT's) take exactly these steps; ``from_processor`` refuses any that takes others.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from imagecaption.models.base import ModelError

MAX_ASPECT = 4


@dataclass(frozen=True)
class ImagePreprocessing:
    resize: dict[str, int] | None
    """``{"shortest_edge": n}`` (keep the aspect ratio) or ``{"height": h, "width": w}``."""
    resample: int
    """A Pillow filter number (``Image.Resampling``), as the processor's ``resample``."""
    crop: tuple[int, int] | None
    """(height, width) cut from the centre after resizing."""
    rescale: float | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None

    def __call__(self, image: Image.Image) -> np.ndarray:
        """Pixels (channels, height, width) in float32, as the model was trained."""
        if self.resize and "shortest_edge" in self.resize:
            image = centre_band(image)
        rgb = image.convert("RGB")
        if self.resize is not None:
            height, width = self._resized(rgb.height, rgb.width)
            rgb = rgb.resize((width, height), resample=Image.Resampling(self.resample))
        pixels: np.ndarray = np.asarray(rgb).transpose(2, 0, 1)
        if self.crop is not None:
            pixels = _centre_crop(pixels, *self.crop)
        if self.rescale is not None:
            pixels = (pixels.astype(np.float64) * self.rescale).astype(np.float32)
        else:
            pixels = pixels.astype(np.float32)
        if self.mean is not None and self.std is not None:
            mean = np.array(self.mean, dtype=np.float32)[:, None, None]
            std = np.array(self.std, dtype=np.float32)[:, None, None]
            pixels = (pixels - mean) / std
        return np.ascontiguousarray(pixels)

    def _resized(self, height: int, width: int) -> tuple[int, int]:
        assert self.resize is not None
        if "shortest_edge" not in self.resize:
            return self.resize["height"], self.resize["width"]
        size = self.resize["shortest_edge"]
        short, long = (width, height) if width <= height else (height, width)
        longer = int(size * long / short)
        return (longer, size) if width <= height else (size, longer)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImagePreprocessing:
        crop, mean, std = data["crop"], data["mean"], data["std"]
        return cls(
            resize={str(key): int(value) for key, value in data["resize"].items()}
            if data["resize"] is not None
            else None,
            resample=int(data["resample"]),
            crop=(int(crop[0]), int(crop[1])) if crop is not None else None,
            rescale=float(data["rescale"]) if data["rescale"] is not None else None,
            mean=tuple(float(v) for v in mean) if mean is not None else None,
            std=tuple(float(v) for v in std) if std is not None else None,
        )


def _centre_crop(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """transformers' ``center_crop``: the middle, padded with zeros where the image is smaller."""
    _, rows, cols = pixels.shape
    top, left = (rows - height) // 2, (cols - width) // 2
    if top >= 0 and left >= 0:
        return pixels[:, top : top + height, left : left + width]
    tall, wide = max(height, rows), max(width, cols)
    padded = np.zeros((pixels.shape[0], tall, wide), dtype=pixels.dtype)
    top_pad, left_pad = math.ceil((tall - rows) / 2), math.ceil((wide - cols) / 2)
    padded[:, top_pad : top_pad + rows, left_pad : left_pad + cols] = pixels
    top, left = top + top_pad, left + left_pad
    return padded[:, max(0, top) : min(tall, top + height), max(0, left) : min(wide, left + width)]


def centre_band(image: Image.Image) -> Image.Image:
    """At most MAX_ASPECT times as long as it is wide, cut from the middle.

    Processors that scale the short side to the model's size and then keep the centre (CLIP's,
    which GIT uses) would first blow a 20000 x 2 pixel image up to 2,240,000 x 224: 13 s and 5 GB
    for an upload of a few hundred bytes. Only the centre square is kept in the end, so a band
    around it, wide enough for the resampling filter at its edges, gives the model the same
    pixels up to where a fraction of a pixel falls (the processor rounds the scaled length);
    ordinary photos are not touched.
    """
    width, height = image.size
    short = min(width, height)
    keep = math.ceil(MAX_ASPECT * short)
    if max(width, height) <= keep:
        return image
    if width > height:
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))


def from_processor(processor: Any) -> ImagePreprocessing:
    """The settings of a transformers image processor (its Pillow backend), or a ModelError
    when it does more than these steps, which could then not be redone faithfully."""
    from transformers.image_processing_backends import PilBackend

    kind = type(processor)
    supported = isinstance(processor, PilBackend)
    custom = [
        step
        for step in ("_preprocess", "resize", "center_crop", "rescale", "normalize")
        if getattr(kind, step, None) is not getattr(PilBackend, step)
    ]
    if not supported or custom:
        raise ModelError(
            f"The image processor {kind.__name__} cannot be exported: only processors that "
            "resize, crop, rescale and normalise (CLIP's, BLIP's, ViT's) are redone without "
            "transformers."
        )
    if getattr(processor, "do_pad", False):
        raise ModelError(f"The image processor {kind.__name__} pads images: not supported.")
    resize = None
    if processor.do_resize:
        size = {key: value for key, value in dict(processor.size).items() if value is not None}
        if set(size) not in ({"shortest_edge"}, {"height", "width"}):
            raise ModelError(f"The image processor's size {size} is not supported.")
        resize = {key: int(value) for key, value in size.items()}
    crop = None
    if processor.do_center_crop:
        crop = (int(processor.crop_size["height"]), int(processor.crop_size["width"]))
    resample = processor.resample if processor.resample is not None else 2  # BILINEAR
    return ImagePreprocessing(
        resize=resize,
        resample=int(resample),
        crop=crop,
        rescale=float(processor.rescale_factor) if processor.do_rescale else None,
        mean=_channels(processor.image_mean) if processor.do_normalize else None,
        std=_channels(processor.image_std) if processor.do_normalize else None,
    )


def _channels(value: float | list[float]) -> tuple[float, ...]:
    values = value if isinstance(value, list | tuple) else [value] * 3
    return tuple(float(v) for v in values)


_VIT = {
    "do_resize": True,
    "size": {"height": 224, "width": 224},
    "resample": 2,  # BILINEAR
    "do_center_crop": False,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}
_CLIP = {
    "do_resize": True,
    "size": {"shortest_edge": 224},
    "resample": 3,  # BICUBIC
    "do_center_crop": True,
    "crop_size": {"height": 224, "width": 224},
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
}
_BLIP = {**_CLIP, "size": {"height": 384, "width": 384}, "do_center_crop": False}
PROCESSOR_DEFAULTS: dict[str, dict[str, Any]] = {"ViT": _VIT, "CLIP": _CLIP, "Blip": _BLIP}
"""The defaults of the processors these models use, for the keys a ``preprocessor_config.json``
leaves out (older files, such as ViT+GPT-2's, name only what differs)."""


def from_config(data: dict[str, Any]) -> ImagePreprocessing:
    """The settings in a ``preprocessor_config.json``, read as transformers reads them for the
    ViT, CLIP and BLIP processors (their defaults for missing keys; a ``size`` given as one
    number is a square for ViT and BLIP, the short side for CLIP), without transformers."""
    kind = str(data.get("image_processor_type") or data.get("feature_extractor_type") or "")
    family = next(
        (name for name in PROCESSOR_DEFAULTS if kind.startswith(f"{name}ImageProcessor")), None
    )
    if family is None and kind.startswith("ViTFeatureExtractor"):
        family = "ViT"
    if family is None:
        raise ModelError(
            f"The image processor {kind or '(unnamed)'} is not supported without transformers: "
            "only ViT's, CLIP's and BLIP's are redone."
        )
    if data.get("do_pad"):
        raise ModelError(f"The image processor {kind} pads images: not supported.")
    settings = {**PROCESSOR_DEFAULTS[family], **{k: v for k, v in data.items() if v is not None}}
    resize = None
    if settings["do_resize"]:
        size = settings["size"]
        if isinstance(size, int | float):
            size = {"shortest_edge": size} if family == "CLIP" else {"height": size, "width": size}
        size = {str(key): int(value) for key, value in dict(size).items() if value is not None}
        if set(size) not in ({"shortest_edge"}, {"height", "width"}):
            raise ModelError(f"The image processor's size {size} is not supported.")
        resize = size
    crop = None
    if settings["do_center_crop"]:
        crop_size = settings["crop_size"]
        if isinstance(crop_size, int | float):
            crop_size = {"height": crop_size, "width": crop_size}
        crop = (int(crop_size["height"]), int(crop_size["width"]))
    normalise = bool(settings["do_normalize"])
    return ImagePreprocessing(
        resize=resize,
        resample=int(settings["resample"]),
        crop=crop,
        rescale=float(settings["rescale_factor"]) if settings["do_rescale"] else None,
        mean=_channels(settings["image_mean"]) if normalise else None,
        std=_channels(settings["image_std"]) if normalise else None,
    )

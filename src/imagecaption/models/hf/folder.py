"""A transformers model folder: checked cheaply at start, then loaded.

A hub download and a folder written by ``save_pretrained`` look the same, so one code path serves
both. The check reads only JSON and the weights' headers, so ``serve`` can refuse a broken or
incomplete folder at once, with a message, instead of failing on the first request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from safetensors import SafetensorError, safe_open
from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer
from transformers.utils import logging as transformers_logging

from imagecaption.models.base import ModelError
from imagecaption.models.hf.architectures import (
    Architecture,
    Model,
    architecture_for,
    supported_model_types,
)

PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


def check_folder(folder: Path) -> Architecture:
    """The folder's architecture, or a ModelError naming what is missing or broken."""
    if not folder.is_dir():
        raise ModelError(f"Model folder {folder} does not exist.")
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise ModelError(
            f"{folder} has no config.json: it is not a transformers model folder, "
            "or its download is incomplete."
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{config_file} cannot be read as JSON: {exc}") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    architecture = architecture_for(str(model_type))
    if architecture is None:
        raise ModelError(
            f"{folder}: model type {model_type!r} is not a captioning architecture this server "
            f"runs; supported: {', '.join(supported_model_types())}."
        )
    _check_weights(folder)
    for kind, names in (("image processor", PROCESSOR_FILES), ("tokenizer", TOKENIZER_FILES)):
        if not any((folder / name).is_file() for name in names):
            raise ModelError(f"{folder} has no {kind} files ({', '.join(names)}).")
    return architecture


def _check_weights(folder: Path) -> None:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise ModelError(f"{index} is not a valid weights index: {exc}") from None
        files = [folder / shard for shard in shards]
    elif (folder / "model.safetensors").is_file():
        files = [folder / "model.safetensors"]
    elif (folder / "pytorch_model.bin").is_file():
        return  # a pickle: nothing to check short of loading it
    else:
        raise ModelError(
            f"{folder} has no weights (model.safetensors or pytorch_model.bin): "
            "the download is incomplete or the folder is not a model."
        )
    for file in files:
        try:
            with safe_open(str(file), "pt"):
                pass
        except FileNotFoundError:
            raise ModelError(f"Weights file {file} is missing.") from None
        except (SafetensorError, OSError) as exc:
            raise ModelError(f"Weights file {file} is damaged or incomplete: {exc}") from None


@dataclass(frozen=True)
class Processors:
    image: Any
    """The image processor: resize and normalise, run per image off the worker thread."""
    tokenizer: Any
    full: Any
    """The full processor, for architectures whose prompt it builds; else None."""


def load_processors(folder: Path, architecture: Architecture) -> Processors:
    try:
        image = cast(Any, AutoImageProcessor).from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        full = (
            cast(Any, AutoProcessor).from_pretrained(folder)
            if architecture.uses_processor
            else None
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"Cannot load the processor or tokenizer in {folder}: {exc}") from exc
    return Processors(image, tokenizer, full)


def load_weights(
    folder: Path, architecture: Architecture, dtype: torch.dtype = torch.float32
) -> Model:
    """The model in eval mode; weights that do not fit the config are an error, not a warning
    (transformers would fill them with random numbers and serve nonsense)."""
    # Progress bars on stderr would interleave with the server's JSON log lines.
    cast(Any, transformers_logging).disable_progress_bar()
    try:
        loader: Any = architecture.model_class
        model, info = loader.from_pretrained(folder, dtype=dtype, output_loading_info=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"Cannot load the weights in {folder}: {exc}") from exc
    missing = info.get("missing_keys") or []
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise ModelError(
            f"{folder}: the weights do not match the config ({len(missing)} missing, e.g. {shown})."
        )
    model.eval()
    return model

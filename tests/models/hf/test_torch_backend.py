"""The shared decoding loop over torch gives what transformers' own generate() gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from imagecaption.models.base import CaptionOptions
from imagecaption.models.hf.decoding import decode
from imagecaption.models.hf.folder import check_folder, load_processors
from imagecaption.models.hf.torch_backend import TorchBackend
from tests.models.hf.conftest import ARCHITECTURES, Folders

NEW_TOKENS = 10


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_greedy_tokens_match_transformers_generate(
    folders: Folders, architecture: str, dtype: str, images: list[Image.Image]
) -> None:
    """In float32, and in the half precisions a GPU serves in (run here on the CPU: the casts,
    the cache and the logits handed back to the decoding loop are the same code)."""
    folder = folders(architecture)
    kind = check_folder(folder)
    processors = load_processors(folder, kind)
    backend = TorchBackend(device="cpu", dtype=dtype, threads=2)
    runtime, spec = backend.open(folder, kind, processors)
    pixels = processors.image(images=images, return_tensors="np")["pixel_values"]
    prompt = np.tile(np.array(spec.prompts["brief"]), (len(images), 1))
    generation = replace(spec.generation(CaptionOptions()), max_new_tokens=NEW_TOKENS)
    ours = [h[0].tokens for h in decode(runtime, pixels, prompt, generation)]

    model = kind.model_class.from_pretrained(folder, dtype=getattr(torch, dtype)).eval()
    inputs = {"pixel_values": torch.from_numpy(pixels).to(getattr(torch, dtype))}
    if architecture in ("git", "florence2"):  # the others start from their configured token
        inputs["input_ids"] = torch.from_numpy(prompt)
    with torch.inference_mode():
        generated = model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False)
    # generate() returns the one start token (GIT, BLIP: the prompt; others: the decoder's) first.
    for mine, theirs in zip(ours, generated[:, 1:].tolist(), strict=True):
        assert list(mine) == theirs[: len(mine)]
        assert len(mine) == NEW_TOKENS or mine[-1] in spec.eos

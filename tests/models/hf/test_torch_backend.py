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


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_greedy_tokens_match_transformers_generate(
    folders: Folders, architecture: str, images: list[Image.Image]
) -> None:
    folder = folders(architecture)
    kind = check_folder(folder)
    processors = load_processors(folder, kind)
    runtime, spec = TorchBackend(device="cpu", threads=2).open(folder, kind, processors)
    pixels = processors.image(images=images, return_tensors="np")["pixel_values"]
    prompt = np.tile(np.array(spec.prompts["brief"]), (len(images), 1))
    generation = replace(spec.generation(CaptionOptions()), max_new_tokens=NEW_TOKENS)
    ours = [h[0].tokens for h in decode(runtime, pixels, prompt, generation)]

    model = kind.model_class.from_pretrained(folder).eval()
    inputs = {"pixel_values": torch.from_numpy(pixels)}
    if architecture in ("git", "florence2"):  # the others start from their configured token
        inputs["input_ids"] = torch.from_numpy(prompt)
    with torch.inference_mode():
        generated = model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False)
    # generate() returns the one start token (GIT, BLIP: the prompt; others: the decoder's) first.
    for mine, theirs in zip(ours, generated[:, 1:].tolist(), strict=True):
        assert list(mine) == theirs[: len(mine)]
        assert len(mine) == NEW_TOKENS or mine[-1] in spec.eos

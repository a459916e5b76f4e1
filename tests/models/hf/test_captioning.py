"""What every architecture must do on every runtime: the Captioner contract, through a folder.

Runtimes: torch (float32), onnx (the float32 export), onnx-int8 (the quantised export), and
the same two run by OpenVINO: openvino (float32) and openvino-int8 (int8 weights).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagecaption.errors import BadInput
from imagecaption.models.base import CaptionOptions
from imagecaption.models.hf.captioner import centre_band
from imagecaption.models.hf.folder import check_folder, load_processors
from tests.models.hf.conftest import ARCHITECTURES, RUNTIMES, Captioners, Folders

pytestmark = pytest.mark.parametrize("architecture", ARCHITECTURES)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_batch_captions_each_image_exactly_as_alone(
    captioners: Captioners, architecture: str, runtime: str, images: list[Image.Image]
) -> None:
    captioner = captioners(architecture, runtime)
    options = CaptionOptions(max_length=12)
    batch = captioner.caption_batch(images, options)
    alone = [captioner.caption_batch([image], options)[0] for image in images]
    assert [c.text for c in batch] == [c.text for c in alone]
    assert [c.score for c in batch] == pytest.approx([c.score for c in alone], rel=1e-4)
    assert all(c.text and 0 < (c.score or 0) <= 1 for c in batch)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_several_captions_come_sorted_with_scores(
    captioners: Captioners, architecture: str, runtime: str, images: list[Image.Image]
) -> None:
    captioner = captioners(architecture, runtime)
    results = captioner.caption_batch(images[:2], CaptionOptions(max_length=8, num_captions=3))
    for caption in results:
        texts = [candidate.text for candidate in caption.candidates]
        scores = [candidate.score for candidate in caption.candidates]
        assert 2 <= len(texts) <= 3
        assert len(set(texts)) == len(texts)
        assert scores == sorted(scores, reverse=True)
        assert all(0 < score <= 1 for score in scores)
        assert (caption.text, caption.score) == (texts[0], scores[0])


@pytest.mark.parametrize("runtime", ["torch", "onnx-int8"])
def test_max_length_caps_the_caption(
    captioners: Captioners, architecture: str, runtime: str, images: list[Image.Image]
) -> None:
    captioner = captioners(architecture, runtime)
    for longest in (1, 3):
        for caption in captioner.caption_batch(images[:2], CaptionOptions(max_length=longest)):
            assert 1 <= len(caption.text.split()) <= longest


def test_preprocessing_yields_the_models_input(
    captioners: Captioners, architecture: str, images: list[Image.Image]
) -> None:
    """The engine runs this in its thread pool; the worker then only sees arrays."""
    captioner = captioners(architecture, "onnx-int8")
    prepared = [captioner.preprocess(image) for image in images[:2]]
    assert all(isinstance(p, np.ndarray) and p.shape == prepared[0].shape for p in prepared)
    from_arrays = captioner.caption_prepared(prepared, CaptionOptions(max_length=6))
    from_images = captioner.caption_batch(images[:2], CaptionOptions(max_length=6))
    assert [c.text for c in from_arrays] == [c.text for c in from_images]


def test_detail_is_offered_only_where_the_model_has_it(
    captioners: Captioners, architecture: str, images: list[Image.Image]
) -> None:
    captioner = captioners(architecture, "onnx-int8")
    levels = captioner.info.detail_levels
    captioner.check_options(CaptionOptions(detail="brief"))
    if architecture == "florence2":
        assert levels == ("brief", "detailed", "more_detailed")
        detailed = CaptionOptions(detail="detailed", max_length=8)
        captioner.check_options(detailed)
        assert captioner.caption_batch(images[:1], detailed)[0].text
    else:
        assert levels == ("brief",)
        with pytest.raises(BadInput, match="does not support detail='detailed'"):
            captioner.check_options(CaptionOptions(detail="detailed"))


@pytest.mark.parametrize("size", [(3000, 12), (9, 2000)])
def test_a_long_thin_image_gives_the_model_what_the_whole_image_would(
    captioners: Captioners, folders: Folders, architecture: str, size: tuple[int, int]
) -> None:
    """Cutting the centre band first (see ``centre_band``) leaves the model's input the same,
    up to where a fraction of a pixel falls (a band off the centre differs by about 0.7)."""
    width, height = size
    coarse = np.random.default_rng(2).integers(0, 255, (height // 4, width // 4, 3), np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    folder = folders(architecture)
    whole = load_processors(folder, check_folder(folder)).image(images=image, return_tensors="np")
    prepared = captioners(architecture, "torch").preprocess(image)
    assert prepared.shape == whole["pixel_values"][0].shape
    assert np.abs(prepared - whole["pixel_values"][0]).mean() < 0.05


def test_the_centre_band_is_at_most_four_times_as_long_as_wide(architecture: str) -> None:
    assert centre_band(Image.new("RGB", (40_000, 1))).size == (4, 1)
    assert centre_band(Image.new("RGB", (3, 1000))).size == (3, 12)
    wide = Image.new("RGB", (10, 1))
    wide.putpixel((5, 0), (255, 0, 0))
    assert centre_band(wide).getpixel((2, 0)) == (255, 0, 0)  # the middle is what is kept
    photo_sized = Image.new("RGB", (640, 480))
    assert centre_band(photo_sized) is photo_sized

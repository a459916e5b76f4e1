"""The shipped EfficientNet-Lite0 classifier against PyTorch's outputs, recorded at conversion."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from imagecaption.models.offline import classifier
from imagecaption.models.offline.classifier import Classifier, classifier_input
from tests.conftest import photo

REFERENCES = Path(__file__).with_name("offline_references.npz")
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "grace_hopper"]
PACKAGE = "imagecaption.models.offline"
# Storing the weights as float16 moved the logits (range about -4..12 on these photos) by at most
# 0.0101 at conversion; a different CPU's float32 kernels add far less than the margin.
LOGIT_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def logits() -> np.ndarray:
    with np.load(REFERENCES) as recorded:
        assert list(recorded["photos"]) == PHOTOS
        return np.asarray(recorded["classifier_logits"])


def test_the_shipped_model_matches_pytorch(logits: np.ndarray) -> None:
    model = Classifier(threads=2)
    batch = [classifier_input(photo(name)) for name in PHOTOS]
    probabilities = model.probabilities(batch)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert (probabilities.argmax(axis=1) == logits.argmax(axis=1)).all()
    for found, wanted in zip(probabilities, expected, strict=True):
        assert set(np.argsort(-found)[:5]) == set(np.argsort(-wanted)[:5])
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=5e-3)


def test_raw_logits_match_pytorch(logits: np.ndarray) -> None:
    from imagecaption.models.onnx_session import create_session

    model = resources.files(PACKAGE).joinpath(classifier.MODEL).read_bytes()
    session = create_session(model, threads=2)
    batch = np.stack([classifier_input(photo(name)) for name in PHOTOS])
    (actual,) = session.run([classifier.OUTPUT_NAME], {classifier.INPUT_NAME: batch})
    np.testing.assert_allclose(actual, logits, rtol=0, atol=LOGIT_TOLERANCE)


def test_a_batch_axis_of_any_size() -> None:
    model = Classifier(threads=1)
    image = classifier_input(photo("chelsea"))
    one = model.probabilities([image])
    three = model.probabilities([image, image, image])
    assert three.shape == (3, 1000)
    np.testing.assert_allclose(three, np.repeat(one, 3, axis=0), atol=1e-6)


def test_every_shipped_model_is_described() -> None:
    """models.json names each ONNX file in the package, with its SHA-256 and licence texts."""
    import hashlib

    folder = resources.files(PACKAGE)
    described = json.loads(folder.joinpath("models.json").read_text(encoding="utf-8"))
    shipped = {item.name for item in folder.iterdir() if item.name.endswith(".onnx")}
    assert set(described) == shipped
    for name, entry in described.items():
        digest = hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest()
        assert entry["sha256"] == digest, f"{name} changed since models.json was written"
        assert entry["source"]["registry"] in {"PyPI", "npm"}
        for licence in entry["licence_files"]:
            assert folder.joinpath(licence).is_file(), licence

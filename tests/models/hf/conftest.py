"""Tiny models of every architecture, saved once per session, and captioners over them.

Exports are cached in one session folder, as a server caches them in its data directory, so
each architecture is exported (and converted for OpenVINO) once per precision however many tests
use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagecaption.models.hf.captioner import Backend, TransformersCaptioner
from imagecaption.models.hf.onnx_backend import OnnxBackend
from imagecaption.models.hf.openvino_backend import OpenVinoBackend
from imagecaption.models.hf.torch_backend import TorchBackend
from tests.conftest import photo
from tests.models.hf import tiny

ARCHITECTURES = ("git", "blip", "vision_encoder_decoder", "florence2")
RUNTIMES = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")

Folders = Callable[[str], Path]
Captioners = Callable[[str, str], TransformersCaptioner]


@pytest.fixture(scope="session")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Folders:
    made: dict[str, Path] = {}

    def folder(architecture: str) -> Path:
        if architecture not in made:
            build = getattr(tiny, architecture)
            made[architecture] = build(tmp_path_factory.mktemp(architecture))
        return made[architecture]

    return folder


@pytest.fixture(scope="session")
def export_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


def make_backend(runtime: str, export_cache: Path) -> Backend:
    if runtime == "torch":
        return TorchBackend(device="cpu", threads=2)
    if runtime.startswith("openvino"):
        return OpenVinoBackend(export_cache / "openvino", runtime == "openvino-int8", threads=2)
    return OnnxBackend(export_cache, quantize=runtime == "onnx-int8", threads=2)


@pytest.fixture(scope="session")
def captioners(folders: Folders, export_cache: Path) -> Captioners:
    made: dict[tuple[str, str], TransformersCaptioner] = {}

    def captioner(architecture: str, runtime: str) -> TransformersCaptioner:
        if (architecture, runtime) not in made:
            folder = folders(architecture)
            loaded = TransformersCaptioner(
                architecture, lambda: folder, make_backend(runtime, export_cache)
            )
            loaded.load()
            made[architecture, runtime] = loaded
        return made[architecture, runtime]

    return captioner


@pytest.fixture(scope="session")
def images() -> list[Image.Image]:
    """Real photographs, plus noise that no photograph resembles."""
    noise = np.random.default_rng(1).integers(0, 255, (60, 90, 3), dtype=np.uint8)
    names = ("chelsea", "coffee", "astronaut", "grace_hopper")
    return [photo(name) for name in names] + [Image.fromarray(noise)]

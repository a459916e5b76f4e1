"""The prefill on OpenVINO in bfloat16 beside int8 steps on ONNX Runtime (``prefill_runtime =
"openvino"``): its outputs are the int8 prefill's state in the same order, close to float32's,
it captions every architecture whose prefill it runs, and a server says it runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from imagecaption.models.base import CaptionOptions
from imagecaption.models.cpu_features import cpu_flags, has_amx_bf16
from imagecaption.models.hf.bf16_prefill import Bf16PrefillRuntime
from imagecaption.models.hf.captioner import TransformersCaptioner
from imagecaption.models.hf.folder import check_folder, load_processors
from imagecaption.models.hf.onnx_backend import OnnxBackend, load_or_export
from imagecaption.models.hf.onnx_graphs import OnnxRuntime
from tests.e2e.server import RunningServer
from tests.models.hf.conftest import Folders
from tests.models.hf.served import assert_serves_like, serve_model

ARCHITECTURES = ("git", "blip", "vision_encoder_decoder", "florence2")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_bf16_prefill_hands_the_int8_steps_the_same_state(
    architecture: str, folders: Folders, export_cache: Path, images: list[Image.Image]
) -> None:
    folder = folders(architecture)
    kind = check_folder(folder)
    processors = load_processors(folder, kind)
    int8 = load_or_export(folder, kind, processors, export_cache, True)
    floats = load_or_export(folder, kind, processors, export_cache, False)
    mixed = Bf16PrefillRuntime(int8, floats.prefill, 2)
    exact = OnnxRuntime(floats, 2)
    captioner = TransformersCaptioner(
        architecture, lambda: folder, OnnxBackend(export_cache, True, 2)
    )
    captioner.load()
    pixels = np.stack([captioner.preprocess(image) for image in images[:2]]).astype(np.float32)
    prompt = np.tile(np.array(int8.spec.prompts["brief"], dtype=np.int64), (2, 1))
    logits, state = mixed.prefill(pixels, prompt)
    want_logits, want_state = exact.prefill(pixels, prompt)
    assert logits.shape == want_logits.shape
    assert _cosine(logits, want_logits) > 0.999
    got = [*state.static, *state.dynamic]
    want = [*want_state.static, *want_state.dynamic]
    assert [array.shape for array in got] == [array.shape for array in want]
    for mine, theirs in zip(got, want, strict=True):
        assert _cosine(mine, theirs) > 0.999  # in its place: a swapped tensor would be ~0
    # The int8 step takes that state as it takes its own prefill's.
    step_logits, _ = mixed.step(logits.argmax(-1)[:, None].astype(np.int64), state)
    assert np.isfinite(step_logits).all()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_captioner_with_the_bf16_prefill_captions(
    architecture: str, folders: Folders, export_cache: Path, images: list[Image.Image]
) -> None:
    folder = folders(architecture)
    backend = OnnxBackend(export_cache, True, 2, bf16_prefill=True)
    captioner = TransformersCaptioner(architecture, lambda: folder, backend)
    captioner.load()
    assert captioner.info.backend == "onnx, prefill on openvino in bfloat16"
    captions = captioner.caption_batch(images[:3], CaptionOptions())
    assert len(captions) == 3
    assert all(caption.text for caption in captions)


def test_the_bf16_prefill_is_for_int8_only(export_cache: Path) -> None:
    assert OnnxBackend(export_cache, False, 2, bf16_prefill=True).name == "onnx"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu sse avx512f amx_tile amx_bf16"
        " amx_int8\n\nprocessor\t: 1\nflags\t\t: fpu\n"
    )
    flags = cpu_flags.__wrapped__(cpuinfo)
    assert {"amx_tile", "amx_bf16", "avx512f"} <= flags
    assert has_amx_bf16(flags)
    assert not has_amx_bf16(frozenset({"avx512f", "amx_tile"}))
    assert cpu_flags.__wrapped__(tmp_path / "absent") == frozenset()


@pytest.fixture(scope="module")
def served(folders: Folders, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model = {"model": str(folders("git")), "backend": "onnx", "prefill_runtime": "openvino"}
    with serve_model(tmp_path_factory.mktemp("served-bf16-prefill"), model) as server:
        yield server


def test_a_server_says_its_prefill_runs_on_openvino_and_answers_as_in_process(
    served: RunningServer, folders: Folders, export_cache: Path
) -> None:
    ready = httpx.get(served.url + "/readyz").json()
    assert ready["model"]["backend"] == "onnx, prefill on openvino in bfloat16"
    folder = folders("git")
    reference = TransformersCaptioner(
        "git", lambda: folder, OnnxBackend(export_cache, True, 2, bf16_prefill=True)
    )
    reference.load()
    assert_serves_like(served, served.create_key("pro"), reference, [{}, {"num_captions": 2}])


def test_this_machine_reports_amx_as_its_flags_say() -> None:
    assert has_amx_bf16() == ({"amx_tile", "amx_bf16"} <= cpu_flags())

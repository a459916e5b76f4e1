"""The OpenVINO backend: int8 weights whose rows do not depend on their batch, refused where it
cannot run, and served over HTTP (its float32 tokens against torch's, and its cache, are checked
beside the onnx export's, in test_onnx_backend)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops

from imagecaption.models.base import ModelError
from imagecaption.models.hf.openvino_backend import (
    _compress_weights,
    compile_options,
)
from imagecaption.models.registry import create_captioner
from imagecaption.settings import Settings
from tests.conftest import encode, photo
from tests.e2e.server import RunningServer
from tests.models.hf.conftest import Captioners, Folders
from tests.models.hf.served import serve_model


def test_int8_models_hold_int8_weights(
    captioners: Captioners, export_cache: Path, folders: Folders
) -> None:
    captioners("blip", "openvino-int8")
    (converted,) = (export_cache / "openvino").glob(f"{folders('blip').name}-int8-*")
    for graph in ("prefill.xml", "step.xml"):
        model = ov.Core().read_model(str(converted / graph))
        types = {
            op.get_output_element_type(0)
            for op in model.get_ops()
            if op.get_type_name() == "Constant"
        }
        assert ov.Type.u8 in types


def test_int8_rows_do_not_depend_on_their_batch() -> None:
    """Activations are quantised per row (per token): a row's result is the same alone or
    beside huge rows. The same up to float32 rounding, not bit for bit: on CPUs without AVX-512
    OpenVINO picks another kernel for one row than for four, which sums in another order (about
    1e-6 apart). Quantised with the batch's scale, the first row would be 100 times coarser and
    off by whole units."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((256, 96)).astype(np.float32)
    x = ops.parameter([-1, 256], np.float32, name="x")
    model = ov.Model([ops.matmul(x, ops.constant(weight), False, False)], [x])
    compiled = ov.Core().compile_model(_compress_weights(model), "CPU", compile_options(2))
    rows = rng.standard_normal((4, 256)).astype(np.float32)
    rows[1:] *= 100
    together = compiled({"x": rows})[0]
    alone = compiled({"x": rows[:1]})[0]
    np.testing.assert_allclose(together[0], alone[0], rtol=0, atol=1e-4)
    exact = rows @ weight
    error = np.abs(together - exact).max(axis=1) / np.abs(exact).max(axis=1)
    assert error.max() < 0.05


def test_openvino_is_refused_where_it_cannot_run(
    tmp_path: Path, folders: Folders, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = str(folders("git"))
    with pytest.raises(ModelError, match="runs on the CPU"):
        create_captioner(
            Settings(data_dir=tmp_path, model=model, backend="openvino", device="cuda")
        )
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "openvino" else found(name, *args),
    )
    with pytest.raises(ModelError, match=r"imagecaption\[openvino\]"):
        create_captioner(Settings(data_dir=tmp_path, model=model, backend="openvino"))


@pytest.fixture(scope="module")
def served(folders: Folders, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model = {"model": str(folders("git")), "backend": "openvino"}
    with serve_model(tmp_path_factory.mktemp("served-openvino"), model) as server:
        yield server


def test_a_server_on_openvino_answers_a_caption(served: RunningServer) -> None:
    ready = httpx.get(served.url + "/readyz").json()
    assert ready["model"]["backend"] == "openvino"
    assert ready["model"]["fallback"] is None
    response = httpx.post(
        served.url + "/v1/imagecaption",
        headers={"X-API-Key": served.create_key("pro")},
        files={"image": ("photo", encode(photo("chelsea")))},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["caption"]

"""A real server process serving a model folder (as an air-gapped operator would), over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from tests.conftest import encode, photo
from tests.e2e.server import RunningServer
from tests.models.hf.conftest import Folders
from tests.models.hf.served import serve_model

ENDPOINT = "/v1/imagecaption"
NAMES = ("chelsea", "coffee", "astronaut", "grace_hopper", "rocket", "camera")


@pytest.fixture(scope="module")
def served(folders: Folders, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model = {"model": str(folders("git")), "backend": "onnx", "max_batch_wait_ms": 50}
    with serve_model(tmp_path_factory.mktemp("served"), model, monthly_credits=1_000_000) as server:
        yield server


@pytest.fixture(scope="module")
def key(served: RunningServer) -> str:
    return served.create_key("pro")


def caption(server: RunningServer, key: str, image: bytes, **params: object) -> httpx.Response:
    return httpx.post(
        server.url + ENDPOINT,
        params={name: str(value) for name, value in params.items()},
        headers={"X-API-Key": key},
        files={"image": ("photo", image)},
        timeout=60,
    )


def test_the_folder_model_serves_the_seeds_response(served: RunningServer, key: str) -> None:
    ready = httpx.get(served.url + "/readyz").json()
    assert ready["model"]["name"] == "git0"  # the folder's name: never a path of the machine
    assert ready["model"]["backend"] == "onnx"
    assert ready["model"]["fallback"] is None
    response = caption(served, key, encode(photo("chelsea")))
    assert response.status_code == 200, response.text
    assert list(response.json()["data"]) == ["caption"]


def test_options_reach_the_model(served: RunningServer, key: str) -> None:
    image = encode(photo("coffee"))
    data = caption(served, key, image, num_captions=2, max_length=5, details="true").json()["data"]
    assert data["model"] == "git0"
    assert 1 <= len(data["captions"]) <= 2
    assert all(len(c["caption"].split()) <= 5 for c in data["captions"])
    refused = caption(served, key, image, detail="detailed")
    assert refused.status_code == 400
    assert "does not support detail='detailed'" in refused.json()["error"]


def test_concurrent_requests_are_batched_without_changing_captions(
    served: RunningServer, key: str
) -> None:
    images = [encode(photo(name)) for name in NAMES]
    alone = [caption(served, key, image).json()["data"]["caption"] for image in images]
    with ThreadPoolExecutor(max_workers=len(images)) as pool:
        together = list(pool.map(lambda image: caption(served, key, image), images))
    assert [r.json()["data"]["caption"] for r in together] == alone
    metrics = httpx.get(served.url + "/metrics").text
    sizes = {
        line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("imagecaption_batch_size_bucket")
    }
    assert sizes["1.0"] < sizes["+Inf"], "some requests must have shared a batch"


@pytest.mark.parametrize("size", [(20_000, 2), (2, 20_000), (1, 1)])
def test_odd_shapes_get_a_caption(served: RunningServer, key: str, size: tuple[int, int]) -> None:
    """A 20000 x 2 image is 40,000 pixels and a few hundred bytes, but scaled to the model's short
    side it would be billions of values: it must be answered like any photo."""
    response = caption(served, key, encode(Image.new("RGB", size, (90, 140, 200)), "PNG"))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["caption"]

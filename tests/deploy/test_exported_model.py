"""The light image (no torch) serves a model exported once, and captions exactly as the models
install's onnx backend does: from a volume with ``podman run``, with compose.yaml and its
exported-model file, and from Kubernetes' exported-model overlay, where an init container copies
the folder out of a models-only image into the pod.

The model is tiny and random (GIT's architecture), exported in the test by ``models export``;
the reference captions come from the models install in this process, from the folder it was
exported from."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from imagecaption.models.base import Captioner
from imagecaption.models.hf.export import export_model
from imagecaption.settings import load_settings
from tests.deploy.conftest import require_kubectl
from tests.deploy.containers import served
from tests.deploy.engine import Podman
from tests.deploy.images import BuiltImage, base_image, record
from tests.deploy.kube import by_kind, play, render, run_migration_job, secret_values
from tests.deploy.test_compose import Compose, api_up
from tests.models.hf.served import assert_serves_like
from tests.replicas.cluster import require_redis

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "tests" / "deploy" / "podman-exported-overlay"
MODEL_IMAGE = "localhost/imagecaption-test-model"
OPTIONS = [{}, {"num_captions": 2, "max_length": 5}]


@dataclass(frozen=True)
class Exported:
    folder: Path
    reference: Captioner
    """The models install's onnx backend (int8) on the folder the export was made from."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    from imagecaption.models.hf.captioner import TransformersCaptioner
    from imagecaption.models.hf.onnx_backend import OnnxBackend
    from tests.models.hf import tiny

    root = tmp_path_factory.mktemp("exported-model")
    (root / "git").mkdir()
    source = tiny.git(root / "git")
    settings = load_settings(None, data_dir=root / "data")
    folder = export_model(str(source), root / "models" / "git-int8", True, settings)
    reference = TransformersCaptioner("git", lambda: source, OnnxBackend(root / "onnx", True, 2))
    reference.load()
    return Exported(folder, reference)


def assert_ready_with(url: str, name: str) -> None:
    model = httpx.get(url + "/readyz", timeout=10).json()["model"]
    assert (model["name"], model["backend"], model["fallback"]) == (name, "onnx", None)


def test_the_light_image_serves_an_exported_folder_from_a_volume(
    podman: Podman, image: BuiltImage, exported: Exported
) -> None:
    env = {"IMAGECAPTION_MODEL": "/models/git-int8", "IMAGECAPTION_BACKEND": "onnx"}
    mount = f"{exported.folder}:/models/git-int8:ro"
    with served(podman, image.name, mounts=(mount,), env=env) as server:
        assert_ready_with(server.url, "git-int8")
        key, _ = server.create_key("pro")
        assert_serves_like(server, key, exported.reference, OPTIONS)


def test_compose_serves_an_exported_folder(
    podman: Podman, image: BuiltImage, database_url: str, exported: Exported
) -> None:
    env = {
        "IMAGECAPTION_MODELS_DIR": str(exported.folder.parent),
        "IMAGECAPTION_MODEL_NAME": exported.folder.name,
    }
    more = (ROOT / "compose.exported-model.yaml",)
    with api_up(Compose(podman, image.name, database_url, more, env)) as running:
        assert_ready_with(running.url, exported.folder.name)
        key = running("exec", "api", "imagecaption", "keys", "create", "--plan", "pro").split()[0]
        assert_serves_like(running, key, exported.reference, OPTIONS)


@pytest.fixture(scope="module")
def model_image(podman: Podman, image: BuiltImage, exported: Exported) -> Iterator[str]:
    """deploy/model-image/Dockerfile built from the export, named as the overlay's model path
    says, on the API image's own base (``image`` makes sure that base is there)."""
    model = by_kind(render(OVERLAY), "ConfigMap")["data"]["IMAGECAPTION_MODEL"]
    base = base_image(podman)
    name = f"{MODEL_IMAGE}:{secrets.token_hex(4)}"
    podman.run(
        "build",
        "--format",
        "docker",
        "--file",
        str(ROOT / "deploy" / "model-image" / "Dockerfile"),
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        f"MODEL_NAME={Path(model).name}",
        "--tag",
        name,
        str(exported.folder),
        timeout=300,
    )
    layer = int(podman.inspect(name, "image")["Size"]) - int(podman.inspect(base, "image")["Size"])
    record(tiny_model_image_layer_bytes=layer)
    try:
        yield name
    finally:
        podman.run("rmi", "--force", name, check=False)


def test_a_kubernetes_replica_gets_the_model_from_an_init_container(
    podman: Podman,
    image: BuiltImage,
    model_image: str,
    database_url: str,
    exported: Exported,
    tmp_path: Path,
) -> None:
    require_kubectl()
    require_redis()
    rendered = render(OVERLAY)
    values = secret_values(database_url)
    run_migration_job(podman, by_kind(rendered, "Job"), values, image.name)
    init_images = {"model": model_image}
    with play(podman, tmp_path, rendered, values, {}, 1, image.name, init_images) as cluster:
        (replica,) = cluster.replicas
        model = Path(by_kind(rendered, "ConfigMap")["data"]["IMAGECAPTION_MODEL"])
        assert_ready_with(replica.url, model.name)
        key, _ = replica.create_key("pro")
        assert_serves_like(replica, key, exported.reference, OPTIONS)
        # The API reads the copy and cannot change it.
        listed, _ = replica.exec("ls", str(model))
        assert "manifest.json" in listed.split()
        tried, _ = replica.exec("sh", "-c", f"touch {model}/x 2>&1 || true")
        assert "Read-only file system" in tried

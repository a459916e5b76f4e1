"""Which model serves: --model auto, explicit references, models list and models pull."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from huggingface_hub import constants
from PIL import Image

from imagecaption.models.auto import FallbackCaptioner
from imagecaption.models.base import Caption, Captioner, CaptionOptions, ModelError, ModelInfo
from imagecaption.models.registry import check_model, create_captioner, runtime_name
from imagecaption.settings import Settings
from tests.models.hf.conftest import Folders

NOWHERE = "acme/no-such-captioner"


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No hub access and an empty hub cache, in this process and in the ones it starts."""
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return env


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagecaption", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def test_auto_falls_back_to_offline_at_once_and_says_why(
    offline_hub: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    captioner = create_captioner(settings(tmp_path, full_model=NOWHERE))
    assert time.monotonic() - started < 5
    assert captioner.info.name.startswith("offline")
    assert captioner.info.fallback is not None
    assert NOWHERE in captioner.info.fallback
    assert "HF_HUB_OFFLINE" in captioner.info.fallback


def test_auto_serves_the_full_model_when_it_is_here(
    offline_hub: dict[str, str], tmp_path: Path, folders: Folders
) -> None:
    captioner = create_captioner(settings(tmp_path, full_model=str(folders("blip"))))
    assert captioner.info.name == folders("blip").name
    assert captioner.info.backend == "onnx"
    assert captioner.info.fallback is None


def test_auto_falls_back_from_a_broken_full_model(
    offline_hub: dict[str, str], tmp_path: Path, folders: Folders
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(folders("git"), broken)
    (broken / "model.safetensors").unlink()
    captioner = create_captioner(settings(tmp_path, full_model=str(broken)))
    assert captioner.info.fallback is not None
    assert "has no weights" in captioner.info.fallback


def test_a_named_model_that_is_nowhere_is_an_error(
    offline_hub: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="not downloaded and HF_HUB_OFFLINE is set"):
        create_captioner(settings(tmp_path, model=NOWHERE))
    with pytest.raises(ModelError, match="is not a model folder"):
        create_captioner(settings(tmp_path, model="./no/such/folder/here"))


def test_models_list_pull_and_serve_by_name(
    offline_hub: dict[str, str], tmp_path: Path, folders: Folders
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    listed = json.loads(cli(offline_hub, "models", "list", "--json", *data).stdout)
    assert listed["serving"] == "offline"
    assert "microsoft/git-base-coco is not downloaded" in listed["fallback"]
    assert [row["name"] for row in listed["models"]] == ["offline"]

    pulled = cli(offline_hub, "models", "pull", str(folders("git")), *data)
    assert pulled.returncode == 0, pulled.stderr
    imported = Path(pulled.stdout.strip())
    assert imported == tmp_path / "data" / "models" / folders("git").name

    env = {**offline_hub, "IMAGECAPTION_FULL_MODEL": imported.name}
    listed = json.loads(cli(env, "models", "list", "--json", *data).stdout)
    assert listed["serving"] == imported.name
    assert listed["fallback"] is None
    row = next(row for row in listed["models"] if row["name"] == imported.name)
    assert row == {
        "name": imported.name,
        "source": "folder",
        "model_type": "git",
        "path": str(imported),
        "serving": True,
    }
    text = cli(env, "models", "list", *data).stdout
    assert f"* {imported.name}" in text


def test_models_pull_without_the_hub_fails_clearly(
    offline_hub: dict[str, str], tmp_path: Path
) -> None:
    result = cli(offline_hub, "models", "pull", NOWHERE, "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"Downloading {NOWHERE} from the model hub failed" in result.stderr
    assert "Traceback" not in result.stderr


class Stub(Captioner):
    def __init__(self, name: str, failure: Exception | None = None) -> None:
        self.name, self.failure, self.loaded = name, failure, False

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(name=self.name, backend="stub")

    def load(self) -> None:
        if self.failure:
            raise self.failure
        self.loaded = True

    def caption_batch(
        self, images: Sequence[Image.Image], options: CaptionOptions
    ) -> list[Caption]:
        return [Caption(self.name) for _ in images]


def test_a_full_model_that_fails_to_load_falls_back_with_the_reason() -> None:
    offline = Stub("offline")
    captioner = FallbackCaptioner(Stub("full", ModelError("download cut")), lambda: offline, None)
    assert captioner.info.name == "full"  # while loading, /readyz names what is coming
    captioner.load()
    assert offline.loaded
    assert captioner.info.name == "offline"
    assert captioner.info.fallback == "full could not be loaded: download cut"
    assert (
        captioner.caption_batch([Image.new("RGB", (4, 4))], CaptionOptions())[0].text == "offline"
    )


def test_the_runtime_follows_the_device(tmp_path: Path) -> None:
    assert runtime_name(settings(tmp_path, device="cpu")) == "onnx"
    assert runtime_name(settings(tmp_path, device="cuda")) == "torch"
    assert runtime_name(settings(tmp_path, device="cpu", backend="torch")) == "torch"


def test_checking_auto_does_not_import_torch(offline_hub: dict[str, str], tmp_path: Path) -> None:
    """torch took about 250 MB of an offline server that only checked which runtime ``auto``
    would pick."""
    code = (
        "import sys\n"
        "from imagecaption.models.registry import check_model\n"
        "from imagecaption.settings import Settings\n"
        f"check_model(Settings(data_dir={str(tmp_path)!r}))\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **offline_hub},
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_a_runtime_asked_for_is_checked_even_when_auto_chooses(
    offline_hub: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="runs on the CPU"):
        check_model(settings(tmp_path, backend="onnx", device="cuda"))

"""Downloads from a model hub: the real huggingface_hub client against a hub on 127.0.0.1.

The tiny GIT model is published on the local hub beside a decoy pickle of the same weights, as
hub repositories often hold both; only the safetensors may be fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import encode, photo
from tests.e2e.server import run_server
from tests.models.hf.conftest import Folders
from tests.models.hf.local_hub import COMMIT, LocalHub, local_hub, repo_from_folder
from tests.models.hf.test_choosing import cli

REPO = "acme/git-tiny"


@pytest.fixture
def hub(folders: Folders) -> Iterator[LocalHub]:
    files = repo_from_folder(folders("git"), {"pytorch_model.bin": b"not for download"})
    with local_hub({REPO: files}) as running:
        yield running


@pytest.fixture
def hub_env(hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The local hub and an empty hub cache, for this process and the ones it starts."""
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_models_pull_downloads_into_the_hub_cache(
    hub: LocalHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    pulled = cli(hub_env, "models", "pull", REPO, *data)
    assert pulled.returncode == 0, pulled.stderr
    snapshot = Path(pulled.stdout.strip())
    assert snapshot == tmp_path / "hf" / "hub" / "models--acme--git-tiny" / "snapshots" / COMMIT
    assert (snapshot / "model.safetensors").is_file()
    assert "100%" in pulled.stderr  # the progress bar
    assert "model.safetensors" in hub.fetched()
    assert "pytorch_model.bin" not in hub.fetched()

    offline = {**hub_env, "HF_HUB_OFFLINE": "1", "IMAGECAPTION_FULL_MODEL": REPO}
    listed = json.loads(cli(offline, "models", "list", "--json", *data).stdout)
    assert listed["serving"] == REPO
    assert listed["fallback"] is None
    row = next(row for row in listed["models"] if row["name"] == REPO)
    assert row["source"] == "hub cache"
    assert row["model_type"] == "git"


def test_a_missing_repository_is_a_clear_error(hub_env: dict[str, str], tmp_path: Path) -> None:
    pulled = cli(hub_env, "models", "pull", "acme/nothing-here", "--data-dir", str(tmp_path))
    assert pulled.returncode == 1
    assert "Downloading acme/nothing-here from the model hub failed" in pulled.stderr
    assert "Traceback" not in pulled.stderr


def test_auto_downloads_the_full_model_at_start_and_serves_it(
    hub: LocalHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    config = f'full_model = "{REPO}"\n\n[plans.pro]\nmonthly_credits = 1000\n'
    with run_server(tmp_path / "server", config) as server:
        ready = httpx.get(server.url + "/readyz").json()
        assert ready["model"]["name"] == REPO
        assert ready["model"]["fallback"] is None
        response = httpx.post(
            server.url + "/v1/imagecaption",
            params={"details": "true"},
            headers={"X-API-Key": server.create_key("pro")},
            files={"image": ("photo", encode(photo("chelsea")))},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["model"] == REPO
    assert "model.safetensors" in hub.fetched()
    assert (tmp_path / "hf" / "hub" / "models--acme--git-tiny" / "snapshots" / COMMIT).is_dir()


def test_models_export_takes_a_hub_id_and_records_its_revision(
    hub: LocalHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "git-tiny-onnx"
    data = ["--data-dir", str(tmp_path / "data")]
    exported = cli(hub_env, "models", "export", REPO, "--out", str(out), *data)
    assert exported.returncode == 0, exported.stderr
    assert Path(exported.stdout.strip()) == out
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["source"], manifest["revision"]) == (REPO, COMMIT)
    assert manifest["precision"] == "int8"
    again = cli(hub_env, "models", "export", REPO, "--out", str(out), *data)
    assert again.returncode == 1
    assert "already exists" in again.stderr

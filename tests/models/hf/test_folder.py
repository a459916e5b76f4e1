"""A broken or incomplete model folder is refused at start, with a message that says why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from imagecaption.models.base import ModelError
from imagecaption.models.hf.folder import check_folder, load_weights
from tests.models.hf.conftest import Folders


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _remove_tokenizer(folder: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (folder / name).unlink(missing_ok=True)


def _edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **changes}))

    return edit


BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), "has no weights"),
    "truncated weights": (lambda f: _truncate(f / "model.safetensors"), "damaged or incomplete"),
    "corrupted config": (
        lambda f: (f / "config.json").write_text('{"model_type": "git",'),
        "cannot be read as JSON",
    ),
    "missing config": (lambda f: (f / "config.json").unlink(), "has no config.json"),
    "not a captioner": (_edit_config(model_type="bert"), "not a captioning architecture"),
    "no tokenizer": (
        lambda f: (
            [(f / n).unlink(missing_ok=True) for n in ("tokenizer.json", "vocab.txt")]
            and (f / "tokenizer_config.json").unlink()
        ),
        "no tokenizer files",
    ),
}


@pytest.fixture
def broken(folders: Folders, tmp_path: Path) -> Callable[[str], Path]:
    def make(breakage: str) -> Path:
        folder = tmp_path / "git-broken"
        shutil.copytree(folders("git"), folder)
        BREAKAGES[breakage][0](folder)
        return folder

    return make


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_folder_is_refused_with_the_reason(
    broken: Callable[[str], Path], breakage: str
) -> None:
    with pytest.raises(ModelError, match=BREAKAGES[breakage][1]):
        check_folder(broken(breakage))


def test_weights_that_do_not_fit_the_config_are_refused(folders: Folders, tmp_path: Path) -> None:
    """transformers would only warn and fill the gaps with random numbers."""
    folder = tmp_path / "git-bigger"
    shutil.copytree(folders("git"), folder)
    _edit_config(num_hidden_layers=3)(folder)
    with pytest.raises(ModelError, match="weights do not match the config"):
        load_weights(folder, check_folder(folder))


def test_serve_exits_at_once_with_the_reason(broken: Callable[[str], Path], tmp_path: Path) -> None:
    model, data = str(broken("missing weights")), str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "imagecaption", "serve", "--model", model, "--data-dir", data],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert result.returncode == 1
    assert "has no weights" in result.stderr
    assert "Traceback" not in result.stderr

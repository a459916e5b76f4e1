"""A real base install (``pip install .``, no extras) captions an exported folder exactly as the
models install does.

The other base-install tests hide the models extra inside the test environment; this one runs a
separate virtual environment that never had torch or transformers, so a dependency that only the
test environment happens to provide cannot hide. CI builds it as ``.venv-base`` beside the test
environment (see ``.ci/run``); where it is absent the test skips, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagecaption.models.hf.export import export_model
from imagecaption.settings import load_settings
from tests.conftest import encode, photo
from tests.models.hf.conftest import ARCHITECTURES, Folders

BASE = Path(__file__).resolve().parents[3] / ".venv-base" / "bin"


def _caption(python: Path | str, folder: Path, images: list[Path]) -> list[str]:
    env = {
        **os.environ,
        "IMAGECAPTION_MODEL": str(folder),
        "IMAGECAPTION_BACKEND": "onnx",
        "HF_HUB_OFFLINE": "1",
    }
    if python != sys.executable:
        env.pop("PYTHONPATH", None)  # the base environment runs its own installed copy
    done = subprocess.run(
        [str(python), "-m", "imagecaption", "caption", "--json", *map(str, images)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
        cwd=folder.parent,  # not the repository root, whose sources would shadow the install
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [line["error"] for line in lines] == [None] * len(images)
    return [line["caption"] for line in lines]


@pytest.mark.skipif(
    not (BASE / "python").exists(),
    reason="no base-install environment at .venv-base (CI builds it: "
    "python3 -m venv .venv-base && .venv-base/bin/pip install .)",
)
def test_the_base_install_captions_exports_as_the_models_install_does(
    folders: Folders, tmp_path: Path
) -> None:
    has_torch = subprocess.run(
        [str(BASE / "python"), "-c", "import importlib.util as u; print(u.find_spec('torch'))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert has_torch.stdout.strip() == "None"
    images = []
    for name in ("chelsea", "coffee"):
        image = tmp_path / f"{name}.png"
        image.write_bytes(encode(photo(name), "PNG"))
        images.append(image)
    settings = load_settings(None, data_dir=tmp_path / "data")
    for architecture in ARCHITECTURES:
        exported = export_model(str(folders(architecture)), tmp_path / architecture, True, settings)
        expected = _caption(sys.executable, exported, images)  # the models install
        assert all(expected)
        assert _caption(BASE / "python", exported, images) == expected, architecture

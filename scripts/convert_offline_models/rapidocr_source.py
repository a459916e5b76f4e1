"""The text models shipped from RapidOCR's wheel: where their originals are, and their entries
in ``models.json``."""

from __future__ import annotations

import json
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import provenance

RAPIDOCR = "rapidocr"
# The version whose models the shipped files were made from; another may ship other weights.
RAPIDOCR_VERSION = "3.10.0"
UPSTREAM = "PaddlePaddle PaddleOCR PP-OCRv6 (Apache-2.0), ONNX by RapidOCR (Apache-2.0)"


def original(source: str) -> Path:
    """A model file (``models/...``) of the installed wheel, which must be the recorded version."""
    found = metadata.version(RAPIDOCR)
    if found != RAPIDOCR_VERSION:
        sys.exit(f"rapidocr {RAPIDOCR_VERSION} is the recorded source; {found} is installed")
    return Path(str(resources.files(RAPIDOCR).joinpath(source)))


def entry(source: str, model: str, storage: str, checked: str) -> dict[str, Any]:
    """The ``models.json`` entry of a file made from the wheel's ``source``."""
    return {
        "model": model,
        "upstream": UPSTREAM,
        "licence": "Apache-2.0",
        "licence_files": ["licenses/Apache-2.0.txt"],
        "source": {
            "registry": "PyPI",
            "package": RAPIDOCR,
            "version": RAPIDOCR_VERSION,
            "package_licence": "Apache-2.0",
            "file": f"{RAPIDOCR}/{source}",
            "sha256": provenance.sha256(original(source)),
        },
        "converted_with": provenance.tool_versions(("onnx",)),
        "storage": storage,
        "checked": checked,
    }


def record(package: Path, shipped: str, described: dict[str, Any]) -> None:
    """Puts ``shipped``'s entry into ``models.json``, in place of the one there was."""
    entries = json.loads((package / "models.json").read_text(encoding="utf-8"))
    entries = {name: item for name, item in entries.items() if name != shipped}
    for item in entries.values():
        item.pop("sha256")
    entries[shipped] = described
    provenance.write(package, entries)

"""Ship RapidOCR's PP-OCRv6 small text detector with its denormal weights set to zero.

A float32 weight below 1.2e-38 in magnitude is denormal: x86 cores compute with it through a
microcode assist, tens to a hundred times slower than with an ordinary number. Most of the weights
of the detector's last two 768 -> 384 convolutions are denormal (255,958 of its 2.45 million
weights, 185,260 of one layer's 294,912), so those two small layers took four fifths of the
detector's time. Such weights are so far below the others that they change no output: ONNX
Runtime gives bit-identical outputs with them set to zero, at half the detector's time. Nothing
else changes. Run once, by hand, in the project's environment:

    pip install -e '.[ocr]' onnx
    python scripts/convert_offline_models/flush_denormals.py

It reads the detector from the installed ``rapidocr`` wheel (whose version must be the one
recorded in ``rapidocr_source.py``), writes ``PP-OCRv6_det_small.onnx`` into the package, and
adds its entry to ``models.json``. Rerunning it gives the same file byte for byte.
``prune_recogniser.py`` sets the recogniser's few denormal weights to zero the same way.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import rapidocr_source
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "imagecaption" / "models" / "offline"
SOURCE = "models/PP-OCRv6_det_small.onnx"
SHIPPED = "PP-OCRv6_det_small.onnx"


def flush(model: onnx.ModelProto) -> int:
    """Sets the model's denormal float32 weights to zero, in place; how many there were."""
    smallest_normal = np.finfo(np.float32).tiny
    flushed = 0
    for initializer in model.graph.initializer:
        values = numpy_helper.to_array(initializer)
        if values.dtype != np.float32:
            continue
        denormal = (values != 0) & (np.abs(values) < smallest_normal)
        if denormal.any():
            flushed += int(denormal.sum())
            values = np.where(denormal, np.float32(0), values)
            initializer.CopyFrom(numpy_helper.from_array(values, initializer.name))
    return flushed


def entry(flushed: int) -> dict[str, Any]:
    return rapidocr_source.entry(
        SOURCE,
        model="PP-OCRv6 small text detector (DB, line probability map), "
        f"its {flushed} denormal weights set to zero",
        storage="float32, as the original; only denormal weights (below 1.2e-38) are zero",
        checked="tests/models/test_text_detector.py: the same boxes and scores as the original "
        "on the test pictures, at the check's size and at the reading's",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PACKAGE / SHIPPED)
    args = parser.parse_args()
    model = onnx.load(rapidocr_source.original(SOURCE))
    flushed = flush(model)
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    print(f"{args.out.name}: {flushed} denormal weights set to zero")
    if args.out.parent == PACKAGE:
        rapidocr_source.record(PACKAGE, SHIPPED, entry(flushed))


if __name__ == "__main__":
    main()

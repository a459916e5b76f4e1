"""Cut RapidOCR's PP-OCRv6 small text recogniser down to the characters a caption can quote.

The recogniser's last layer scores 18,710 classes (Chinese and Latin) at every step along a
line, and RapidOCR then takes the softmax, the maximum and its position over all of them. The
captions quote Latin-script text only, so the shipped recogniser keeps the final classifier's
columns (the last MatMul + Add before the softmax) of the CTC blank, of the characters below and
of the space, and its character list (the ONNX metadata ``character`` that RapidOCR reads) to
match. Nothing else in the graph changes, but for its few denormal weights, set to zero as
``flush_denormals.py`` does for the detector (they only slow the cores down). Run once, by hand,
in the project's environment:

    pip install -e '.[ocr]' onnx
    python scripts/convert_offline_models/prune_recogniser.py

It reads the recogniser from the installed ``rapidocr`` wheel (whose version must be the one
recorded in ``rapidocr_source.py``), writes ``PP-OCRv6_rec_latin.onnx`` into the package, and
adds its entry to ``models.json``. Rerunning it gives the same file byte for byte.
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import rapidocr_source
from flush_denormals import flush
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "imagecaption" / "models" / "offline"
SOURCE = "models/PP-OCRv6_rec_small.onnx"
SHIPPED = "PP-OCRv6_rec_latin.onnx"
# Besides printable ASCII, Latin-1 and Latin Extended-A letters (French, German, Spanish,
# Italian, Portuguese, the Nordic and Central European languages), the punctuation and signs
# that print uses: dashes, curly quotes, bullets, ellipsis, currency, trade marks.
EXTRA_BLOCKS = ((0x00A1, 0x017F), (0x2010, 0x2027), (0x2030, 0x203A), (0x20A0, 0x20BF))
EXTRA_SIGNS = "™№←↑→↓"


def quotable(character: str) -> bool:
    """Whether a caption can quote ``character``: printable ASCII and the blocks above."""
    if len(character) != 1:
        return False
    code = ord(character)
    if 0x21 <= code <= 0x7E or character in EXTRA_SIGNS:
        return True
    inside = any(low <= code <= high for low, high in EXTRA_BLOCKS)
    return inside and unicodedata.category(character)[0] in "LPSN"


def prune(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """The model with its classifier cut to the quotable characters, and their list."""
    graph = model.graph
    characters = _metadata(model, "character").split("\n")
    # RapidOCR's classes: 0 the CTC blank, 1..n the metadata's characters, n + 1 the space.
    kept = [index for index, character in enumerate(characters, 1) if quotable(character)]
    columns = np.array([0, *kept, len(characters) + 1])
    matmul, add = _classifier(graph)
    weights = {initializer.name: initializer for initializer in graph.initializer}
    _cut(weights[matmul.input[1]], columns, axis=1)
    _cut(weights[add.input[1]], columns, axis=0)
    pruned = [characters[index - 1] for index in kept]
    _set_metadata(model, "character", "\n".join(pruned))
    classes = len(characters) + 2
    for value in (*graph.value_info, *graph.output):  # the class axis is now shorter
        dims = value.type.tensor_type.shape.dim
        if dims and dims[-1].HasField("dim_value") and dims[-1].dim_value == classes:
            dims[-1].dim_value = len(columns)
    onnx.checker.check_model(model)
    return model, pruned


def _classifier(graph: onnx.GraphProto) -> tuple[onnx.NodeProto, onnx.NodeProto]:
    """The final classifier: the MatMul and the Add (of the bias) that feed the output softmax."""
    outputs = {output.name for output in graph.output}
    softmax = next(
        node for node in graph.node if node.op_type == "Softmax" and node.output[0] in outputs
    )
    add = _producer(graph, _through_identity(graph, softmax.input[0]))
    matmul = _producer(graph, add.input[0])
    if (add.op_type, matmul.op_type) != ("Add", "MatMul"):
        raise ValueError(f"not a MatMul + Add before the softmax: {matmul.op_type}, {add.op_type}")
    return matmul, add


def _cut(initializer: onnx.TensorProto, columns: np.ndarray, axis: int) -> None:
    values = np.take(numpy_helper.to_array(initializer), columns, axis=axis)
    initializer.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(values), initializer.name))


def _through_identity(graph: onnx.GraphProto, name: str) -> str:
    node = _producer(graph, name)
    while node.op_type == "Identity":
        name = node.input[0]
        node = _producer(graph, name)
    return name


def _producer(graph: onnx.GraphProto, name: str) -> onnx.NodeProto:
    return next(node for node in graph.node if name in node.output)


def _metadata(model: onnx.ModelProto, key: str) -> str:
    return next(prop.value for prop in model.metadata_props if prop.key == key)


def _set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    next(prop for prop in model.metadata_props if prop.key == key).value = value


def entry(characters: list[str], classes: int) -> dict[str, Any]:
    return rapidocr_source.entry(
        SOURCE,
        model="PP-OCRv6 small text recogniser (CTC, 48-pixel-high lines), its final classifier "
        f"cut from {classes} classes to the CTC blank, {len(characters)} Latin-script characters "
        "and the space",
        storage="float32, as the original; only the last MatMul's and Add's columns are cut "
        "and the denormal weights (below 1.2e-38) set to zero",
        checked="tests/models/test_text_recogniser.py: the same strings as the full "
        "recogniser on line crops of the test pictures",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PACKAGE / SHIPPED)
    args = parser.parse_args()
    model = onnx.load(rapidocr_source.original(SOURCE))
    _, add = _classifier(model.graph)
    bias = next(init for init in model.graph.initializer if init.name == add.input[1])
    classes = int(numpy_helper.to_array(bias).shape[0])
    model, characters = prune(model)
    flush(model)
    onnx.save(model, args.out)
    print(f"{args.out.name}: {classes} classes -> {len(characters) + 2}")
    if args.out.parent == PACKAGE:
        rapidocr_source.record(PACKAGE, SHIPPED, entry(characters, classes))


if __name__ == "__main__":
    main()

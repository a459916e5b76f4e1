"""NanoDet-g to int8: the detector the package ships. The second step of the conversion.

The first step (``__main__.py``, in the TensorFlow environment) writes the float detector,
checked against TensorFlow, to ``VARIANTS/nanodet_g_coco_float.onnx``. This step runs in the
project's own environment, because it calibrates on the quality corpus's photographs:

    pip install -e '.[bench]' onnx
    python scripts/convert_offline_models/quantize_detector.py \\
        --float VARIANTS/nanodet_g_coco_float.onnx

It writes ``nanodet_g_coco.onnx`` into the package, compares its detections with the float
model's on every photograph of the quality corpus at the captioner's thresholds, times both, and
records all of it in the detector's entry of ``models.json``. The same onnxruntime on the same
kind of CPU gives the same file byte for byte; another CPU may round the calibrated ranges
differently in the last bits.

Why the graph is quantized the way it is (measured; see MODELS.md):

- Static QDQ quantization with per-channel weights, calibrated by MinMax on the corpus's tuning
  photographs (never the held-out ones, whose captions judge the result). Percentile calibration
  clipped the score logits and lost half the detections.
- uint8 activations with int8 weights: onnxruntime's x86 kernels for int8 activations ran at the
  float model's speed here. Weights use 7 bits (``reduce_range``), so that CPUs without AVX-512
  VNNI, whose uint8 x int8 instruction saturates 16-bit sums, compute exactly what was checked;
  7 against 8 bits made no measurable difference to the detections.
- The first two convolutions stay float: quantizing their outputs caused more than half of the
  score error (mean difference from the float scores, over detections above 0.3 on the corpus,
  0.048 with them int8, 0.023 without), and they are cheap (3 and 32 input channels).
- So does each head's last (1x1) convolution and everything after it, so that scores and box
  logits come out in float rather than on an int8 grid shared by both.
- TensorFlow's explicit ``-inf`` padding before the max pool becomes the pool's own padding,
  which is equal in float; otherwise calibration sees ``-inf`` and every later layer is garbage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import provenance
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.quality.photos import load_cases, load_image  # noqa: E402

from imagecaption.models.offline import objects  # noqa: E402

# Convolutions kept in float, counted from the input, with the activations that follow them.
FLOAT_CONVOLUTIONS = 2
SETTINGS: dict[str, Any] = {
    "format": "QDQ",
    "calibration": "MinMax",
    "activations": "uint8, per tensor",
    "weights": "int8 with 7-bit range (reduce_range), per output channel",
    "kept_float": f"the first {FLOAT_CONVOLUTIONS} convolutions and their LeakyReLUs; each "
    "head's last convolution and all after it (scores and box distributions)",
}


# The quality corpus's tuning photographs when the shipped file was made, in this order; named,
# so that cases added to the corpus later do not change the calibration.
CALIBRATION_PHOTOS = (
    "cameraman", "chelsea", "coffee", "rocket", "hubble_deep_field", "coins", "grass", "horse",
    "china", "aero", "kivy_bubbles", "kivy_illusion", "kivy_skyscrapers", "kivy_cat_mug",
    "kivy_sign", "kivy_kiwi", "fb_dog_on_leash", "fb_deck_chairs", "fb_lab", "fb_conkers",
    "fb_strawberries", "fb_village", "fb_suv_dirt_road", "fb_suv_rocks", "fb_yurts",
    "fb_bottle_cap", "fb_drum", "fb_shoe", "fb_ibises", "fb_geese", "fb_dalmatian", "fb_eagle",
    "fb_leafhopper", "fb_beetle", "augly_web_page", "pygame_source_code", "pygame_game_editor",
    "caer_audio_mixer", "caer_tasmanian_devil", "caer_black_cat", "caer_angelfish", "caer_camera",
    "caer_game_controller", "caer_dusk_peak", "caer_guitar", "caer_island", "caer_laptop",
    "caer_night_lake", "caer_puppies", "caer_sea_turtle", "caer_snowy_peaks", "caer_snowflake",
    "caer_sunrise", "caer_tent_at_night", "skv_taxi", "skv_bike_at_railing", "skv_parked_bike",
)  # fmt: skip


class _Photos(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, tensors: list[np.ndarray]) -> None:
        self._tensors: Iterator[np.ndarray] = iter(tensors)

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._tensors, None)
        return None if tensor is None else {objects.INPUT_NAME: tensor}


def calibration_tensors() -> list[np.ndarray]:
    """The calibration photographs as the detector sees them: ``objects.detector_input``."""
    cases = {case.id: case for case in load_cases()}
    if any(cases[name].held_out for name in CALIBRATION_PHOTOS):
        raise RuntimeError("a calibration photograph is now held out: calibrate on tuning ones")
    return [objects.detector_input(load_image(cases[name])).tensor for name in CALIBRATION_PHOTOS]


def quantize(float_model: onnx.ModelProto, tensors: list[np.ndarray]) -> onnx.ModelProto:
    """The int8 detector: same input, same outputs, same names as ``float_model``."""
    prepared = fold_max_pool_padding(float32_weights(float_model))
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "float.onnx"
        inferred = Path(scratch) / "inferred.onnx"
        target = Path(scratch) / "int8.onnx"
        onnx.save(prepared, source)
        # Shape inference and the runtime's basic fusions (padding into convolutions), as the
        # quantization tool's documentation asks before quantize_static.
        quant_pre_process(str(source), str(inferred))
        graph = onnx.load(str(inferred))
        kept_float = first_layers(graph, FLOAT_CONVOLUTIONS) + output_layers(graph)
        quantize_static(
            str(inferred),
            str(target),
            _Photos(tensors),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=kept_float,
        )
        quantized = onnx.load(str(target))
    del quantized.graph.value_info[:]  # shapes inferred for calibration; the runtime redoes them
    quantized.producer_name = "onnxruntime.quantization"
    quantized.producer_version = provenance.installed_version("onnxruntime")
    onnx.checker.check_model(quantized)
    return quantized


def first_layers(model: onnx.ModelProto, convolutions: int) -> list[str]:
    """Names of the first ``convolutions`` Conv nodes and of the activations reading them.

    Found by position, not by name: tf2onnx numbers its nodes from a process-wide counter.
    """
    chosen: list[str] = []
    for node in model.graph.node:  # ONNX keeps nodes in topological order
        if node.op_type == "Conv" and len(chosen) < 2 * convolutions:
            (output,) = node.output
            readers = [other for other in model.graph.node if output in other.input]
            if len(readers) != 1 or readers[0].op_type != "LeakyRelu":
                raise RuntimeError(f"{node.name} is not followed by one LeakyRelu")
            chosen += [node.name, readers[0].name]
    return chosen


def output_layers(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes between the graph's outputs and the nearest convolutions, inclusive.

    Those convolutions give all 80 class logits and 44 box logits of a head in one tensor; one
    int8 scale for all of it snaps the scores to steps of about 0.02 near 0.5.
    """
    producers = {output: node for node in model.graph.node for output in node.output}
    chosen: dict[str, None] = {}
    waiting = [output.name for output in model.graph.output]
    while waiting:
        node = producers.get(waiting.pop())
        if node is None or node.name in chosen:
            continue
        chosen[node.name] = None
        if node.op_type != "Conv":
            waiting += [name for name in node.input if name in producers]
    return list(chosen)


def float32_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with float16-stored weights (``float16_storage.compact``) as plain float32 again.

    The quantizer must see the weights as initializers, not as outputs of Cast nodes.
    """
    restored = onnx.ModelProto()
    restored.CopyFrom(model)
    graph = restored.graph
    stored = {initializer.name: initializer for initializer in graph.initializer}
    casts = [
        node
        for node in graph.node
        if node.op_type == "Cast" and node.input[0] in stored and len(node.input) == 1
    ]
    for cast in casts:
        values = numpy_helper.to_array(stored.pop(cast.input[0])).astype(np.float32)
        stored[cast.output[0]] = numpy_helper.from_array(values, cast.output[0])
        graph.node.remove(cast)
    del graph.initializer[:]
    graph.initializer.extend(stored.values())
    onnx.checker.check_model(restored)
    return restored


def fold_max_pool_padding(model: onnx.ModelProto) -> onnx.ModelProto:
    """TensorFlow's ``Pad(-inf)`` then ``MaxPool`` as one ``MaxPool`` with its own padding.

    Equal in float (ONNX max pooling ignores its padding), and quantizable: a calibrated range
    that includes ``-inf`` has an infinite scale.
    """
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    graph = folded.graph
    constants = {item.name: numpy_helper.to_array(item) for item in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    for pool in [node for node in graph.node if node.op_type == "MaxPool"]:
        pad = producers.get(pool.input[0])
        if pad is None or pad.op_type != "Pad" or readers[pad.output[0]] != 1:
            continue
        widths = constants[pad.input[1]]
        value = constants[pad.input[2]] if len(pad.input) > 2 else np.float32(0)
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        if mode != b"constant" or not np.isneginf(value) or widths[[0, 1, 4, 5]].any():
            continue  # only spatial padding with -inf is what max pooling's padding means
        if any(attribute.name in ("pads", "auto_pad") for attribute in pool.attribute):
            continue
        pool.input[0] = pad.input[0]
        pool.attribute.append(helper.make_attribute("pads", [int(w) for w in widths[[2, 3, 6, 7]]]))
        graph.node.remove(pad)
    used = {name for node in graph.node for name in node.input}
    kept = [item for item in graph.initializer if item.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(folded)
    return folded


def is_float16_stored(model: onnx.ModelProto) -> bool:
    return any(item.data_type == TensorProto.FLOAT16 for item in model.graph.initializer)


def main() -> None:
    import detector_agreement

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--float", dest="float_model", type=Path, required=True)
    parser.add_argument("--package", type=Path, default=ROOT / "src/imagecaption/models/offline")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds over 12 photos")
    arguments = parser.parse_args()
    package: Path = arguments.package
    described = json.loads((package / "models.json").read_text(encoding="utf-8"))
    entry = described[objects.MODEL]
    float_digest = provenance.sha256(arguments.float_model)
    if entry.get("float_sha256") not in (None, float_digest):
        raise SystemExit(
            f"{arguments.float_model} is not the float model models.json describes "
            f"({entry['float_sha256']}); run the first step again"
        )
    float_model = onnx.load(str(arguments.float_model))
    if not is_float16_stored(float_model):
        raise SystemExit(f"{arguments.float_model}: expected the float16-stored float model")
    quantized = quantize(float_model, calibration_tensors())
    target = package / objects.MODEL
    onnx.save(quantized, target)
    report = detector_agreement.measure(arguments.float_model, target, arguments.rounds)
    entry.update(
        {
            "float_sha256": float_digest,
            "storage": "int8 (QDQ), quantized from the float model; see 'quantization'",
            "quantization": {
                **SETTINGS,
                "tool": f"onnxruntime {provenance.installed_version('onnxruntime')}, "
                f"onnx {provenance.installed_version('onnx')}",
                "calibration_photos": list(CALIBRATION_PHOTOS),
                **report,
            },
            "sha256": provenance.sha256(target),
        }
    )
    text = json.dumps(described, indent=2, ensure_ascii=False) + "\n"
    (package / "models.json").write_text(text, encoding="utf-8")
    print(json.dumps(entry["quantization"], indent=2))


if __name__ == "__main__":
    main()

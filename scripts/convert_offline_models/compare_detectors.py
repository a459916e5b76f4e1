"""How the shipped NanoDet and the CenterNet candidate compare on real photographs. Run by hand.

There is no COCO here, so accuracy is counted on 25 photographs that installed packages carry,
against objects listed by a person who looked at each one (GROUND_TRUTH): "found" counts listed
objects with at least one detection of their label, "wrong" counts detections of labels that are
not there or more boxes than there are things (a crowd or a flock is one thing to find and any
number of boxes). Labels marked OPTIONAL are neither wrong nor missed. Boxes were checked by eye
on drawings of the detections; this counts labels only.

    python scripts/convert_offline_models/compare_detectors.py \\
        --centernet VARIANTS/centernet_mobilenetv3_coco.onnx --opencv-samples DIR

``DIR`` holds OpenCV's sample images (Debian's opencv-doc package installs them in
``/usr/share/doc/opencv-doc/examples/data``); scikit-learn's two sample photos are used when it is
installed. Latency is the median over interleaved runs on 2 threads, pre-processing and
decoding included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from imagecaption.models.offline.objects import (  # noqa: E402
    COCO_LABELS,
    MIN_SCORE,
    Detection,
    ObjectDetector,
    _suppress,
)
from imagecaption.models.onnx_session import create_session  # noqa: E402

CROWD = 10**6
OPTIONAL = -1
GROUND_TRUTH: dict[str, dict[str, int]] = {
    "astronaut": {"person": 1},
    "chelsea": {"cat": 1},
    "coffee": {"cup": 1, "spoon": 1, "dining table": OPTIONAL},
    "rocket": {},
    "camera": {"person": 1},
    "motorcycle_left": {"motorcycle": 1, "bicycle": OPTIONAL},
    "hubble_deep_field": {},
    "coins": {},
    "moon": {},
    "clock_motion": {"clock": 1},
    "grace_hopper": {"person": 1, "tie": 1},
    "china": {"boat": OPTIONAL},
    "flower": {},
    "messi5": {"person": CROWD, "sports ball": 1},
    "basketball1": {"person": 2, "sports ball": 1},
    "fruits": {"orange": 1, "banana": 1},
    "orange": {"orange": 1},
    "apple": {"apple": 1},
    "licenseplate_motion": {"car": 1},
    "chicky_512": {"dog": 1, "person": OPTIONAL},
    "squirrel_cls": {},
    "butterfly": {},
    "home": {"bird": CROWD},
    "building": {"potted plant": OPTIONAL, "car": OPTIONAL, "person": OPTIONAL},
    "stuff": {},
}
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)

Detect = Callable[[Image.Image], list[Detection]]


def photos(opencv_samples: Path) -> dict[str, Image.Image]:
    from matplotlib import cbook
    from skimage import data

    # scikit-image's files rather than its loaders: not every file has one.
    folders = [Path(data.__file__).parent, opencv_samples]
    loaded = {}
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        loaded["grace_hopper"] = Image.open(handle).convert("RGB")
    try:
        from sklearn.datasets import load_sample_images

        samples = load_sample_images()
        for name, pixels in zip(samples.filenames, samples.images, strict=True):
            loaded[Path(name).stem] = Image.fromarray(pixels)
    except ImportError:
        pass
    for name in GROUND_TRUTH:
        for folder in folders:
            for path in (folder / f"{name}.png", folder / f"{name}.jpg"):
                if name not in loaded and path.exists():
                    loaded[name] = Image.open(path)
    return {name: image.convert("RGB") for name, image in loaded.items() if name in GROUND_TRUTH}


def centernet(path: Path) -> Detect:
    """The CenterNet graph decodes its heatmap itself: 100 rows of x0, y0, x1, y1, score, class."""
    session = create_session(path.read_bytes(), threads=2)
    size = 512

    def detect(image: Image.Image) -> list[Detection]:
        scale = size / max(image.size)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        left, top = (size - width) // 2, (size - height) // 2
        canvas = np.zeros((1, size, size, 3), dtype=np.float32)
        resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
        canvas[0, top : top + height, left : left + width] = np.asarray(resized, np.float32)
        (rows,) = session.run(["detections"], {"image": canvas})
        rows = rows[0][np.isfinite(rows[0]).all(axis=1) & (rows[0][:, 4] > MIN_SCORE)]
        offset = np.array([left, top, left, top], dtype=np.float32)
        extent = np.array([width, height, width, height], dtype=np.float32)
        boxes = np.clip((rows[:, :4] - offset) / extent, 0.0, 1.0)
        classes = rows[:, 5].astype(np.int64)
        kept = _suppress(boxes, rows[:, 4], classes)
        return [
            Detection(COCO_LABELS[classes[i]], float(rows[i, 4]), *map(float, boxes[i]))
            for i in kept
        ]

    return detect


def count(found: dict[str, list[Detection]], threshold: float) -> tuple[int, int, int]:
    """(listed objects found, listed objects in all, wrong detections) at ``threshold``."""
    hits = wrong = listed = 0
    for name, truth in GROUND_TRUTH.items():
        labels: dict[str, int] = {}
        for item in found[name]:
            if item.score >= threshold:
                labels[item.label] = labels.get(item.label, 0) + 1
        for label, boxes in labels.items():
            expected = truth.get(label, 0)
            if expected != OPTIONAL:
                wrong += max(0, boxes - expected)
        for label, expected in truth.items():
            if expected != OPTIONAL:
                needed = 1 if expected == CROWD else expected
                listed += needed
                hits += min(needed, labels.get(label, 0))
    return hits, listed, wrong


def latency(detectors: dict[str, Detect], images: list[Image.Image], rounds: int) -> None:
    spent: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(rounds):
        for image in images:
            for name, detect in detectors.items():
                start = time.perf_counter()
                detect(image)
                spent[name].append(time.perf_counter() - start)
    for name, times in spent.items():
        print(f"{name}: median {1000 * statistics.median(times):.1f} ms over {len(times)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--centernet", type=Path, required=True)
    parser.add_argument("--opencv-samples", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    loaded = photos(arguments.opencv_samples)
    missing = sorted(set(GROUND_TRUTH) - set(loaded))
    if missing:
        raise SystemExit(f"photos not found: {', '.join(missing)}")
    detectors = {
        "nanodet": ObjectDetector(threads=2).detect,
        "centernet": centernet(arguments.centernet),
    }
    for name, detect in detectors.items():
        found = {photo: detect(image) for photo, image in loaded.items()}
        for threshold in THRESHOLDS:
            hits, listed, wrong = count(found, threshold)
            print(f"{name} at {threshold}: found {hits}/{listed}, wrong {wrong}")
    latency(detectors, list(loaded.values()), arguments.rounds)


if __name__ == "__main__":
    main()

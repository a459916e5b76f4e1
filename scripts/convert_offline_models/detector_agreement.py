"""How far the int8 detector's findings are from the float model's, and how much faster it is.

Run by ``quantize_detector.py`` (which records the result in ``models.json``), or by hand:

    python scripts/convert_offline_models/detector_agreement.py FLOAT.onnx INT8.onnx

Both models see every photograph of the quality corpus. Only detections the captioner would use
count: those at or above their category's ``min_score`` in ``compose/coco_nouns.tsv``. A float
detection is "same" when the int8 model found the same label over the same region (boxes
overlapping by at least MATCH_IOU); otherwise it "disappeared", or was "relabelled" when an
int8 detection of another label covers it. Int8 detections left over "appeared". Each change is
listed with both models' scores for that box, so that a threshold crossing by a hair can be told
from a real disagreement.

Latency: medians over interleaved runs (the two models take turns on each photograph, so a
busy machine slows both alike), batch 1, 2 threads, with the service's session options;
inference alone, and ``detect()`` as the captioner calls it (letterboxing, inference, decoding
and suppression).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.quality.photos import load_cases, load_image  # noqa: E402

from imagecaption.models.offline.compose.vocabulary import load_nouns  # noqa: E402
from imagecaption.models.offline.objects import (  # noqa: E402
    INPUT_NAME,
    Detection,
    ObjectDetector,
    detector_input,
)

MATCH_IOU = 0.5
THREADS = 2
TIMED_PHOTOS = 12


@dataclass
class Tally:
    float_detections: int = 0
    int8_detections: int = 0
    same: int = 0
    appeared: int = 0
    disappeared: int = 0
    relabelled: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(vars(self))


def measure(float_model: Path, int8_model: Path, rounds: int) -> dict[str, Any]:
    photos = {case.id: (case, load_image(case)) for case in load_cases()}
    detectors = {
        "float": ObjectDetector(THREADS, float_model),
        "int8": ObjectDetector(THREADS, int8_model),
    }
    report = agreement(detectors["float"], detectors["int8"], photos)
    every = max(1, len(photos) // TIMED_PHOTOS)
    timed = [image for _, image in list(photos.values())[::every][:TIMED_PHOTOS]]
    report["latency_ms"] = latency(detectors, timed, rounds)
    return report


def agreement(
    reference: ObjectDetector,
    candidate: ObjectDetector,
    photos: dict[str, tuple[Any, Image.Image]],
) -> dict[str, Any]:
    thresholds = {label: noun.min_score for label, noun in load_nouns().items()}
    tally = Tally()
    changes: list[str] = []
    differences: list[float] = []
    overlaps: list[float] = []
    for name, (case, image) in photos.items():
        found_reference = reference.detect(image)
        found_candidate = candidate.detect(image)
        kept_reference = [d for d in found_reference if d.score >= thresholds[d.label]]
        kept_candidate = [d for d in found_candidate if d.score >= thresholds[d.label]]
        tally.float_detections += len(kept_reference)
        tally.int8_detections += len(kept_candidate)
        pairs = _pairs(kept_reference, kept_candidate, same_label=True)
        tally.same += len(pairs)
        for first, second in pairs:
            differences.append(kept_candidate[second].score - kept_reference[first].score)
            overlaps.append(overlap(kept_reference[first], kept_candidate[second]))
        lost = [d for i, d in enumerate(kept_reference) if i not in {p[0] for p in pairs}]
        new = [d for i, d in enumerate(kept_candidate) if i not in {p[1] for p in pairs}]
        tag = f"{name}{' (held out)' if case.held_out else ''}"
        relabelled = _pairs(lost, new, same_label=False)
        for first, second in relabelled:
            tally.relabelled += 1
            changes.append(
                f"{tag}: {lost[first].label} {lost[first].score:.3f} became "
                f"{new[second].label} {new[second].score:.3f}"
            )
        for index, item in enumerate(lost):
            if index not in {p[0] for p in relabelled}:
                tally.disappeared += 1
                other = _score_of(item, found_candidate)
                changes.append(
                    f"{tag}: {item.label} {item.score:.3f} disappeared (int8 {other:.3f}, "
                    f"threshold {thresholds[item.label]:.2f})"
                )
        for index, item in enumerate(new):
            if index not in {p[1] for p in relabelled}:
                tally.appeared += 1
                other = _score_of(item, found_reference)
                changes.append(
                    f"{tag}: {item.label} {item.score:.3f} appeared (float {other:.3f}, "
                    f"threshold {thresholds[item.label]:.2f})"
                )
    gaps = np.array(differences)
    return {
        "photos": len(photos),
        "above_threshold": tally.as_json(),
        "changes": changes,
        "score_difference_of_same": {
            "mean": round(float(gaps.mean()), 4),
            "mean_absolute": round(float(np.abs(gaps).mean()), 4),
            "largest_absolute": round(float(np.abs(gaps).max()), 4),
        },
        "box_iou_of_same": {
            "smallest": round(min(overlaps), 3),
            "median": round(statistics.median(overlaps), 3),
        },
    }


def _pairs(
    first: list[Detection], second: list[Detection], same_label: bool
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, most overlapping first, of boxes overlapping >= MATCH_IOU."""
    candidates = sorted(
        (
            (overlap(a, b), i, j)
            for i, a in enumerate(first)
            for j, b in enumerate(second)
            if (a.label == b.label) == same_label
        ),
        reverse=True,
    )
    taken_first: set[int] = set()
    taken_second: set[int] = set()
    pairs = []
    for iou, i, j in candidates:
        if iou >= MATCH_IOU and i not in taken_first and j not in taken_second:
            pairs.append((i, j))
            taken_first.add(i)
            taken_second.add(j)
    return pairs


def _score_of(item: Detection, found: list[Detection]) -> float:
    """The other model's score for its box of the same label that overlaps ``item`` most, if
    by at least MATCH_IOU (0: none above the detector's 0.2 floor)."""
    overlaps = [(overlap(d, item), d.score) for d in found if d.label == item.label]
    best = max(overlaps, default=(0.0, 0.0))
    return best[1] if best[0] >= MATCH_IOU else 0.0


def overlap(first: Detection, second: Detection) -> float:
    width = min(first.right, second.right) - max(first.left, second.left)
    height = min(first.bottom, second.bottom) - max(first.top, second.top)
    if width <= 0 or height <= 0:
        return 0.0
    shared = width * height
    area = (first.right - first.left) * (first.bottom - first.top)
    other = (second.right - second.left) * (second.bottom - second.top)
    return shared / (area + other - shared)


def latency(
    detectors: dict[str, ObjectDetector], images: list[Image.Image], rounds: int
) -> dict[str, Any]:
    inference: dict[str, list[float]] = {name: [] for name in detectors}
    whole: dict[str, list[float]] = {name: [] for name in detectors}
    tensors = [detector_input(image).tensor for image in images]
    for detector in detectors.values():
        detector.detect(images[0])  # first runs allocate
    for _ in range(rounds):
        for image, tensor in zip(images, tensors, strict=True):
            for name, detector in detectors.items():
                session = detector._session
                start = time.perf_counter()
                session.run(None, {INPUT_NAME: tensor})
                middle = time.perf_counter()
                detector.detect(image)
                end = time.perf_counter()
                inference[name].append(middle - start)
                whole[name].append(end - middle)
    result: dict[str, Any] = {
        "machine": machine(),
        "threads": THREADS,
        "runs": rounds * len(images),
    }
    for name in detectors:
        result[name] = {
            "inference": round(1000 * statistics.median(inference[name]), 1),
            "detect": round(1000 * statistics.median(whole[name]), 1),
        }
    return result


def machine() -> str:
    """The CPU, whether it has AVX-512 VNNI (int8 dot products), the cores and the load."""
    with open("/proc/cpuinfo") as info:
        rows = info.read().splitlines()
    names = [row.split(":", 1)[1].strip() for row in rows if row.startswith("model name")]
    flags = {f for row in rows if row.startswith("flags") for f in row.split(":", 1)[1].split()}
    vnni = "AVX-512 VNNI" if "avx512_vnni" in flags else "no AVX-512 VNNI"
    load = os.getloadavg()[0]
    return (
        f"{names[0] if names else 'unknown CPU'} ({vnni}), {os.cpu_count()} cores, load {load:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("float_model", type=Path)
    parser.add_argument("int8_model", type=Path)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds over 12 photos")
    arguments = parser.parse_args()
    print(
        json.dumps(measure(arguments.float_model, arguments.int8_model, arguments.rounds), indent=2)
    )


if __name__ == "__main__":
    main()

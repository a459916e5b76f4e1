"""Cost of the offline captioner's evidence stages (pose, surroundings, colours), in process.

The captioner without the stages (as it was before them) and with them caption the same photos
in alternation, one picture at a time, so that both see the same load; each stage is also timed
alone on the same inputs. Prints medians in milliseconds and the ratio.

    python -m benchmarks.bench_evidence [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.quality.photos import load_cases
from benchmarks.quality.photos import photo as corpus_photo
from imagecaption.models.base import CaptionOptions
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.colours import thing_colours
from imagecaption.models.offline.compose.things import find_things
from imagecaption.models.offline.pixels import pixel_grid
from imagecaption.models.offline.pose import chosen_people

THREADS = 2


def _ms(action: Callable[..., object], *arguments: Any) -> float:
    start = time.perf_counter()
    action(*arguments)
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    photos = [corpus_photo(case.id) for case in load_cases() if not case.held_out]
    before = OfflineCaptioner(THREADS, evidence=False)
    after = OfflineCaptioner(THREADS)
    before.load()
    after.load()
    options = CaptionOptions()
    for image in photos[:5]:  # warm up both
        before.caption_batch([image], options)
        after.caption_batch([image], options)
    models = after._models  # the stages alone, on the captioner's own inputs
    assert models is not None
    assert models.objects is not None
    assert models.poses is not None
    assert models.surroundings is not None
    times: dict[str, list[float]] = {
        "before": [], "after": [], "grid": [], "pose": [], "surroundings": [], "colours": []
    }  # fmt: skip
    posed = 0
    for _ in range(arguments.rounds):
        for image in photos:
            times["before"].append(_ms(before.caption_batch, [image], options))
            times["after"].append(_ms(after.caption_batch, [image], options))
            prepared = after.preprocess(image)
            things, portrait = find_things(
                models.objects.detect_prepared(prepared.objects_input),
                models.faces.detect_prepared(prepared.faces_input),
                models.nouns,
            )
            times["grid"].append(_ms(pixel_grid, prepared.rgb))
            grid = pixel_grid(prepared.rgb)
            scene = models.classifier.probabilities([prepared.scene_input])[0]
            times["surroundings"].append(_ms(models.surroundings.read, grid, scene, things))
            pairs = [(thing.noun.label, thing.main) for thing in things]
            times["colours"].append(_ms(thing_colours, grid, pairs))
            people = next((thing.boxes for thing in things if thing.has("person")), ())
            if not portrait and chosen_people(people, prepared.rgb.height):
                posed += 1
                times["pose"].append(_ms(models.poses.poses, prepared.rgb, people))
    print(f"{len(photos)} tuning photos x {arguments.rounds} rounds, {THREADS} threads")
    for name, values in times.items():
        if values:
            print(f"{name:>13}: median {statistics.median(values):6.2f} ms  (n={len(values)})")
    ratio = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"after / before: {ratio:.2f}; pose ran on {posed} of {len(times['grid'])} pictures")
    print("(pose: milliseconds per picture where it ran, all its people together)")


if __name__ == "__main__":
    main()

"""Where a picture was taken: indoors or out, the ground below the subject and what lies behind.

No segmentation model ships under a licence that allows shipping it in a registry package (the
DeepLab and ADE20K packages on npm and PyPI carry code that downloads weights at run time), so
this stage reads region statistics of the picture: colour, brightness and texture of the part
below the subject (the ground) and of the upper part around it (the background), with every
detected thing's box left out. Pixels alone confuse a white table with snow and a grey backdrop
with a road, so they only ever confirm what other evidence makes likely: the ground and
background outdoors only where the picture is likely outdoors, and never against the
classifier, whose scene classes (a beach, a lakeside, an alp, a valley, a field of hay) are the
surest evidence and name places by themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from imagecaption.models.offline.colours import NAMES, colour_names
from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.evidence import Colour, Place, Surroundings
from imagecaption.models.offline.labels import Label
from imagecaption.models.offline.pixels import PixelGrid
from imagecaption.models.offline.skies import sunset

# Places the classifier's own classes mean (by WordNet ID, as in imagenet_labels.tsv), as
# (ground, background): a beach has sand below and water behind.
SCENE_PLACES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "n09428293": (("sand",), ("water",)),  # seashore
    "n09421951": (("sand",), ("water",)),  # sandbar
    "n09332890": ((), ("water",)),  # lakeside
    "n09399592": ((), ("water",)),  # promontory, headland
    "n03933933": ((), ("water",)),  # pier
    "n02894605": ((), ("water",)),  # breakwater
    "n03216828": ((), ("water",)),  # dock
    "n09193705": ((), ("mountains",)),  # alp
    "n09468604": ((), ("mountains",)),  # valley
    "n09472597": ((), ("mountains",)),  # volcano
    "n07802026": (("field",), ()),  # hay
    "n11879895": (("field",), ()),  # rapeseed
    "n04228054": (("snow",), ()),  # ski
    "n04252077": (("snow",), ()),  # snowmobile
    "n03218198": (("snow",), ()),  # dogsled
    "n04252225": (("snow",), ()),  # snowplough
}
# Classes that are places outdoors although their category is "place" (dock, pier, patio, maze),
# and "buildings" that photos show from inside as often as not (a prison's cells, a sliding
# door, a window screen, a greenhouse): those count for neither side.
OUTDOOR_PLACES = frozenset({"n03216828", "n03933933", "n03899768", "n03733281"})
EITHER_SIDE = frozenset({"n04005630", "n04239074", "n04589890", "n03457902"})
# How much of the classifier's probability its likeliest scene or place class needs to count as
# the picture's setting (as SETTING_CONFIDENCE in compose/naming.py), and a scene class to name
# its places; those places are scored with the class's probability. A beach at 0.27 was a rice
# terrace and a headland at 0.24 a green valley on the tuning photos, so places need more.
SCENE_CONFIDENCE = 0.2
PLACE_CONFIDENCE = 0.3
# Detected things that are found outdoors, or in rooms, whatever else the picture shows.
OUTDOOR_ROLES = frozenset({"street"})
OUTDOOR_THINGS = frozenset(
    {"horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "bird", "kite",
     "surfboard", "skis", "snowboard", "boat", "airplane", "train", "fire hydrant", "stop sign"}
)  # fmt: skip
INDOOR_ROLES = frozenset({"kitchen", "bathroom", "bedroom", "living", "office"})
# Each kind of evidence adds to a score for outdoors (positive) or indoors (negative); the
# probability of indoors is a logistic of the sum. Weights are in log-odds: one detected oven
# says "indoors" about as surely (0.88) as a sky over a third of the top says "outdoors".
THING_EVIDENCE = 2.0
SKY_EVIDENCE = 2.0
GRASS_EVIDENCE = 1.5
CLASSIFIER_EVIDENCE = 5.0  # times the classifier's probability mass of outdoor or indoor classes
# Pixels alone (a blue backdrop, a green carpet) count for at most this much (under
# LEAST_EVIDENCE, so alone they say nothing about indoors), and name no sky,
# trees or road: they confirm what the classifier or the things suggest (with at least
# CONFIRMED of evidence: a fifth of the classifier's probability on outdoor classes, or one
# outdoor thing), they do not make it up.
PIXELS_ALONE = 0.5
CONFIRMED = 1.0
# Below this much evidence either way nothing is said about indoors.
LEAST_EVIDENCE = 1.0
# Outdoor grounds and backgrounds from pixels need the picture this likely to be outdoors.
OUTDOORS = 0.75
# Grass is named on pixels alone (unless the picture is likely indoors) when it covers this
# share of the ground: green, saturated and textured below a subject is little else.
GRASSY = 0.45

# Night: a picture surely outdoors whose top third (where the sky is) is dark. On the tuning
# photos every outdoor picture with a top third this dark was taken at night, and the dark ones
# that were not (a forest at sunset, a duck on black water) were less surely outdoors.
NIGHT_OUTDOORS = 0.9
NIGHT_SKY = 0.23
NIGHT_TOP = 1 / 3

# A plain backdrop (a painted wall, a studio's paper) behind the subject of a picture not likely
# outdoors: one colour holds nearly all the free cells above the ground, and they are smooth. On
# the tuning photos looser bounds (0.6 of one colour, detail under TEXTURED) also took blurred
# foliage, water, dusk skies and dim rooms for backdrops; these took only plain walls, studio
# backdrops and dark stages.
BACKDROP_SHARE = 0.95
BACKDROP_DETAIL = 0.015

# The regions: the ground is the lowest part of the picture (and what lies below the subject);
# the background the top part beside and above the subject.
GROUND_TOP = 0.65
BACKGROUND_BOTTOM = 0.4
SKY_BAND = 0.2  # the sky touches the top of the picture
# A region needs this many cells left (outside every box) to be read.
MIN_CELLS = 60
# Pixel rules, on hue (degrees), saturation, value and detail (0-1, see pixels.py). Sky is smooth
# blue or smooth light grey; foliage and grass are green with texture; a road is smooth
# mid-grey. Smooth: detail under SMOOTH; textured: over TEXTURED (grass, leaves: 0.04-0.12).
# Water and snow are read from pixels only below things that need them (a boat, skis), as a road
# only with a street vehicle in the picture; sand never: a blue wall, a white table or a page,
# and a wooden table look the same at this size. Water, rippled or not, is blue to teal.
WATER = (160.0, 250.0)
WATER_THINGS = frozenset({"boat", "surfboard"})
SNOW_THINGS = frozenset({"skis", "snowboard"})
SMOOTH = 0.025
TEXTURED = 0.035
BLUE = (185.0, 250.0)
GREEN = (55.0, 170.0)  # sunlit grass is yellow-green, from about 55 degrees
# A place must cover this share of its region to be named; its score is how far past that it is
# (at FULL, and beyond, the score reaches the picture's probability of being outdoors).
COVER = 0.35
FULL = 0.7


@dataclass(frozen=True)
class _Regions:
    ground: np.ndarray  # boolean masks over the grid
    background: np.ndarray
    sky_band: np.ndarray
    backdrop: np.ndarray  # everything free above the ground


class SurroundingsReader:
    """Reads surroundings with the classifier's classes sorted once into outdoor, indoor and
    setting classes (the per-picture work is then a few numpy reductions)."""

    def __init__(self, labels: Sequence[Label]) -> None:
        outdoor = [_outdoor(label) for label in labels]
        self._outdoor = np.array(outdoor)
        self._indoor = np.array(
            [label.category in ("place", "furniture") and not out
             and label.wnid not in EITHER_SIDE
             for label, out in zip(labels, outdoor, strict=True)]
        )  # fmt: skip
        self._settings = np.array([label.category in ("scene", "place") for label in labels])
        self._places = [
            (index, SCENE_PLACES[label.wnid])
            for index, label in enumerate(labels)
            if label.wnid in SCENE_PLACES
        ]

    def read(self, grid: PixelGrid, scene: np.ndarray, things: Sequence[Thing]) -> Surroundings:
        """Indoors or out, the ground and the background, from the pixels (``grid``), the
        classifier's probabilities for the whole picture (``scene``) and the detected things."""
        regions = _regions(grid, things)
        sky = _share(_sky(grid), regions.sky_band)
        grass = _share(_grass(grid), regions.ground)
        outdoor = float(scene[self._outdoor].sum())
        indoor = float(scene[self._indoor].sum())
        evidence = CLASSIFIER_EVIDENCE * (outdoor - indoor)
        evidence += THING_EVIDENCE * _things_evidence(things)
        pixels = SKY_EVIDENCE * min(1.0, sky / COVER) + GRASS_EVIDENCE * min(1.0, grass / COVER)
        confirmed = evidence >= CONFIRMED
        evidence += pixels if confirmed else min(pixels, PIXELS_ALONE)
        indoors = None
        if abs(evidence) >= LEAST_EVIDENCE:
            indoors = round(float(1.0 / (1.0 + np.exp(evidence))), 3)
        setting_outdoors = self._setting_outdoors(scene)
        if indoors is not None and setting_outdoors == (indoors > 0.5):
            indoors = None  # pixels and things against the classifier's setting: unsure
        ground, background = self._scene_places(scene)
        outdoors = 1.0 - indoors if indoors is not None else 0.0
        if confirmed and outdoors >= OUTDOORS:
            found = {"grass": grass}
            labels = {thing.noun.label for thing in things}
            if any(thing.has("street") and thing.has("vehicle") for thing in things):
                found["road"] = _share(_road(grid), regions.ground)
            if labels & WATER_THINGS:
                found["water"] = _share(_water(grid), regions.ground)
            if labels & SNOW_THINGS:
                found["snow"] = _share(_snow(grid), regions.ground)
            _add(ground, found, outdoors)
            trees = _share(_foliage(grid), regions.background)
            _add(background, {"sky": sky, "trees": trees}, outdoors)
        elif grass >= GRASSY and (indoors is None or indoors < 0.5):
            _add(ground, {"grass": grass}, max(outdoors, OUTDOORS))
        night = outdoors if outdoors >= NIGHT_OUTDOORS and _dark_top(grid) else 0.0
        backdrop = _backdrop(grid, regions.backdrop) if outdoors < 0.5 else None
        dusk = sunset(grid, regions.backdrop, outdoors) if not night else 0.0
        return Surroundings(
            indoors, _ranked(ground), _ranked(background), night, backdrop, sunset=dusk
        )

    def _setting_outdoors(self, scene: np.ndarray) -> bool | None:
        """Whether the classifier's likeliest scene or place class (when likely enough to be a
        caption's setting) is outdoors; None when it names no setting."""
        settings = np.where(self._settings, scene, 0.0)
        best = int(np.argmax(settings))
        if settings[best] < SCENE_CONFIDENCE:
            return None
        return bool(self._outdoor[best])

    def _scene_places(self, scene: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        """The places the classifier's scene classes name, each with that class's probability."""
        ground: dict[str, float] = {}
        background: dict[str, float] = {}
        for index, (below, behind) in self._places:
            score = round(float(scene[index]), 3)
            if score < PLACE_CONFIDENCE:
                continue
            for name in below:
                ground[name] = max(ground.get(name, 0.0), score)
            for name in behind:
                background[name] = max(background.get(name, 0.0), score)
        return ground, background


def _outdoor(label: Label) -> bool:
    """Whether an ImageNet class is seen outdoors: scenes, buildings, outdoor places."""
    if label.wnid in EITHER_SIDE:
        return False
    return label.category in ("scene", "building") or label.wnid in OUTDOOR_PLACES


def _add(places: dict[str, float], shares: Mapping[str, float], outdoors: float) -> None:
    for name, share in shares.items():
        if share >= COVER:
            score = outdoors * min(1.0, 0.5 + 0.5 * (share - COVER) / (FULL - COVER))
            places[name] = max(places.get(name, 0.0), round(score, 3))


def _ranked(places: Mapping[str, float]) -> tuple[Place, ...]:
    ordered = sorted(places.items(), key=lambda item: -item[1])
    return tuple(Place(name, score) for name, score in ordered)


def _things_evidence(things: Sequence[Thing]) -> float:
    """+1 when detected things say outdoors, -1 when they say indoors, 0 when neither or both."""
    outdoor = any(
        thing.noun.label in OUTDOOR_THINGS or thing.noun.roles & OUTDOOR_ROLES for thing in things
    )
    indoor = any(thing.noun.roles & INDOOR_ROLES for thing in things)
    return float(outdoor) - float(indoor)


def _regions(grid: PixelGrid, things: Sequence[Thing]) -> _Regions:
    rows, columns = grid.shape
    free = np.ones((rows, columns), dtype=bool)
    subject_bottom = 0.0
    for index, thing in enumerate(things):
        for box in thing.boxes:
            free[grid.rows(box.top, box.bottom), grid.columns(box.left, box.right)] = False
        if index == 0:
            subject_bottom = thing.main.bottom
    top = np.arange(rows)[:, np.newaxis] / rows
    ground_top = min(GROUND_TOP, subject_bottom) if subject_bottom > 0.5 else GROUND_TOP
    ground = free & (top >= ground_top)
    background = free & (top < BACKGROUND_BOTTOM)
    sky_band = free & (top < SKY_BAND)
    return _Regions(ground, background, sky_band, free & (top < ground_top))


def _backdrop(grid: PixelGrid, region: np.ndarray) -> Colour | None:
    """The colour of a plain backdrop in ``region``, when one colour clearly holds it."""
    if int(region.sum()) < MIN_CELLS or float(grid.detail[region].mean()) >= BACKDROP_DETAIL:
        return None
    names = colour_names(grid, slice(None), slice(None))[region]
    counts = np.bincount(names.astype(np.int64), minlength=len(NAMES))
    best = int(np.argmax(counts))
    share = float(counts[best] / names.size)
    return Colour(NAMES[best], round(share, 3)) if share >= BACKDROP_SHARE else None


def _dark_top(grid: PixelGrid) -> bool:
    """The top third, boxes and all, is dark: a night sky, or a street's lights under one."""
    rows = grid.rows(0.0, NIGHT_TOP)
    return float(grid.value[rows].mean()) < NIGHT_SKY


def _share(matches: np.ndarray, region: np.ndarray) -> float:
    cells = int(region.sum())
    return float(matches[region].sum() / cells) if cells >= MIN_CELLS else 0.0


def _between(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return np.asarray((values >= bounds[0]) & (values < bounds[1]))


def _sky(grid: PixelGrid) -> np.ndarray:
    smooth = grid.detail < SMOOTH
    blue = _between(grid.hue, BLUE) & (grid.saturation >= 0.12) & (grid.value >= 0.45)
    # Pure white is a backdrop, a page or a blown-out window, not an overcast sky.
    overcast = (grid.saturation < 0.12) & _between(grid.value, (0.75, 0.97))
    return np.asarray(smooth & (blue | overcast))


def _foliage(grid: PixelGrid) -> np.ndarray:
    green = _between(grid.hue, GREEN) & (grid.saturation >= 0.2) & (grid.value >= 0.08)
    return np.asarray(green & (grid.detail >= TEXTURED))


def _grass(grid: PixelGrid) -> np.ndarray:
    green = _between(grid.hue, GREEN) & (grid.saturation >= 0.25) & (grid.value >= 0.2)
    return np.asarray(green & (grid.detail >= TEXTURED * 0.5))


def _water(grid: PixelGrid) -> np.ndarray:
    blue = _between(grid.hue, WATER) & (grid.saturation >= 0.15) & (grid.value >= 0.15)
    return np.asarray(blue)


def _snow(grid: PixelGrid) -> np.ndarray:
    return np.asarray((grid.saturation < 0.12) & (grid.value >= 0.7))


def _road(grid: PixelGrid) -> np.ndarray:
    grey = (grid.saturation < 0.15) & _between(grid.value, (0.2, 0.7))
    return np.asarray(grey & (grid.detail < TEXTURED))

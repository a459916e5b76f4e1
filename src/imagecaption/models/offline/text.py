"""The read stage: the words in a picture, by PaddleOCR's PP-OCR models as RapidOCR runs them.

RapidOCR (``rapidocr``, Apache-2.0) ships PP-OCRv6 text detection and recognition models as ONNX
files inside its wheel and runs them on ONNX Runtime, so nothing is downloaded at start. It is
the ``ocr`` extra, not a base dependency: it brings OpenCV, Shapely and pyclipper (about 200 MB
installed, as much again as the base install). Without it, ``load_reader`` says why in the log
and the captioners read nothing.

Reading costs far more than the rest of the offline captioner (a detection pass, then a
recognition pass over the lines), so it happens in two steps: ``check`` runs the detector alone on
a small copy, and only when it finds lines does ``read`` look properly. The offline captioner asks
for the check only when cheaper cues suggest text (``text_cues.py``).

What the check found sizes the reading: the detector looks at the picture only as large as its
smallest line needs (a sign's big letters need no enlarged copy, a page's small print does), and
where the check's own copy shows the lines large enough, its boxes are read as they are and the
detector does not run again. The angle classifier, which only tells upright lines from upside-down
ones, runs only when a line stands on its end.

Both the check and the reading use RapidOCR's PP-OCRv6 small detector as shipped beside this file
(``PP-OCRv6_det_small.onnx``, made by ``scripts/convert_offline_models/flush_denormals.py``): most
weights of its last two convolutions are denormal numbers, which x86 cores compute with many times
slower than with ordinary ones; set to zero, they change no output and halve the detector's time.

The recogniser is RapidOCR's PP-OCRv6 small one with its last layer cut to the characters a
caption can quote (``PP-OCRv6_rec_latin.onnx`` beside this file, made by
``scripts/convert_offline_models/prune_recogniser.py``): the full one scores 18,710 classes,
Chinese and Latin, at every step along a line, where the captions quote Latin-script text only.

A caption quotes only a few lines (the largest print, a page's first lines), so a caller can name
the lines worth recognising (``LineChoice``): only those are recognised, and the detector looks
only at the bands of the picture that hold them. Answers with ``details`` read every line.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from imagecaption.models.base import TextLine

log = logging.getLogger(__name__)

DISTRIBUTION = "rapidocr"
MISSING = (
    "text in pictures is not read: the 'ocr' extra is not installed "
    "(pip install 'imagecaption[ocr]')"
)
# The check looks at a copy this long on its longer side: lines of text at least ~2% of the
# picture's height still show, and the detector costs a few milliseconds.
CHECK_SIDE = 320
# How sure the detector must be of a region on the small copy for the picture to be read.
CHECK_SCORE = 0.6
# Reading scales the picture's short side to this many pixels, enlarging small pictures, which
# the recogniser needs for small print. RapidOCR's default, 736, read drawn words and the
# corpus's pictures no better and took 1.6 times as long; not enlarging at all (PaddleOCR's
# "at most 960 on the long side") garbled the small print of a 384-pixel page.
READ_SIDE = 544
# The height, in the detector's pixels, that the smallest line the check found is scaled to: its
# box (the detector's, which is about twice the letters' height) this tall is found and cut out
# whole; a copy more enlarged than that only costs time (the detector's time grows with the area).
LINE_BOX = 40
# Where the check's smallest line box is at least this tall on its own copy, its boxes are cut
# out and read as they are: the words come out as from a second detection (signs, labels, logos),
# without its cost. Smaller boxes from the small copy cut letters off or run lines together.
REUSE_BOX = 24
# A line box this many times taller than wide stands on its end (turned 90 degrees or written
# downwards): only then can the recogniser be handed it upside down, which the classifier fixes.
STANDING = 1.0
# Where only some lines are read, the detector looks only at the bands of the picture that hold
# the check's boxes of those lines, and this much of a box's height above and below it.
BAND_MARGIN = 0.5
# A line box this close (pixels) to a band's edge is a line cut by it.
EDGE = 2
# Words the recogniser is less sure of are left out: a caption must not quote a guess.
WORD_CONFIDENCE = 0.8
# A line needs this many letters or digits to be worth quoting: single marks are mostly texture
# read as "O" or "8".
MIN_CHARACTERS = 2
GAP = "..."
# Strips thinner than this, or longer than this many times their width, hold no readable line
# (and RapidOCR's resizing fails on them).
MIN_SIDE = 16
MAX_ASPECT = 25
_WORD_CHARACTER = re.compile(r"\w", re.UNICODE)
# The recogniser the reader uses: PP-OCRv6 small cut to the Latin-script characters (MODELS.md).
LATIN_RECOGNISER = "PP-OCRv6_rec_latin.onnx"
# The detector: RapidOCR's PP-OCRv6 small one with its denormal weights set to zero, which gives
# the same outputs in half the time (MODELS.md).
DETECTOR = "PP-OCRv6_det_small.onnx"


def latin_recogniser() -> Path:
    """The shipped recogniser's file."""
    return _shipped(LATIN_RECOGNISER)


def text_detector() -> Path:
    """The shipped detector's file."""
    return _shipped(DETECTOR)


def _shipped(name: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(name)))


# Picks, from the boxes of every line found (left, top, right, bottom as fractions of the
# picture), the indices of those worth recognising: the recogniser's time grows with every line,
# and a caption quotes only a few of them.
LineChoice = Callable[[Sequence[tuple[float, float, float, float]]], Sequence[int]]


@dataclass(frozen=True)
class TextCheck:
    """What the check found: the lines' boxes as pixel corners of the picture (n x 4 x 2, each
    clockwise from the top left), and how many pixels of the check's copy make one of the
    picture's."""

    boxes: np.ndarray
    scale: float

    def heights(self) -> np.ndarray:
        """Each box's height in the picture's pixels (the mean of its two upright sides)."""
        return _sides(self.boxes)[1]

    def standing(self) -> bool:
        """Whether any line stands on its end, so that the angle classifier is needed."""
        widths, heights = _sides(self.boxes)
        return bool(np.any(heights > STANDING * widths))


@dataclass(frozen=True)
class Sizing:
    """How ``read`` follows a check: ``sized`` scales the detector's copy to the check's smallest
    line, ``reuse`` reads the check's boxes where its copy shows them large enough, ``classify`` is
    "always" or "standing" (only when a line stands on its end). The defaults are the fast
    ones; all off is the reading before the check sized it (kept for the benchmark)."""

    sized: bool = True
    reuse: bool = True
    classify: str = "standing"
    bands: bool = True


UNSIZED = Sizing(sized=False, reuse=False, classify="always", bands=False)


@dataclass(frozen=True)
class Plan:
    """How one picture is read: the detector's copy ``scale`` times the picture (None: its short
    side enlarged to READ_SIDE), or no detection and the check's boxes read (``reuse``); with
    the angle classifier or without."""

    scale: float | None
    reuse: bool
    classify: bool


def plan_reading(check: TextCheck | None, width: int, height: int, sizing: Sizing) -> Plan:
    """The reading that what the check found calls for (without a check: as before)."""
    if check is None:
        return Plan(scale=None, reuse=False, classify=True)
    classify = sizing.classify == "always" or check.standing()
    if not sizing.sized:
        return Plan(scale=None, reuse=False, classify=classify)
    reuse = sizing.reuse and float(np.min(check.heights())) * check.scale >= REUSE_BOX
    return Plan(scale=detection_scale(check, width, height), reuse=reuse, classify=classify)


def detection_scale(check: TextCheck, width: int, height: int) -> float:
    """How much to scale the picture for the detector: its smallest line's box made LINE_BOX
    pixels tall, but never more than the fixed enlargement to READ_SIDE (nor less than 1 where
    that would not enlarge), which is what reading cost before it was sized."""
    short = min(width, height)
    ceiling = max(READ_SIDE / short, 1.0)
    return float(min(LINE_BOX / float(np.min(check.heights())), ceiling))


class TextReader:
    """Finds and reads lines of text; ``threads`` is how many cores each model may use, and
    ``full_recogniser`` swaps the shipped recogniser for RapidOCR's own, which also reads Chinese
    (kept for the benchmark and the tests that compare the two)."""

    def __init__(
        self, threads: int, sizing: Sizing | None = None, *, full_recogniser: bool = False
    ) -> None:
        from rapidocr import RapidOCR

        self.sizing = sizing or Sizing()
        # The detector's size is set on the shared engine for each picture.
        self._lock = threading.Lock()

        _log_through_the_service(logging.getLogger("RapidOCR"))
        engine = {
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.model_path": str(text_detector()),
        }
        self._checker = RapidOCR(
            params=engine
            | {
                "Global.use_cls": False,
                "Global.use_rec": False,
                "Det.limit_type": "max",
                "Det.limit_side_len": CHECK_SIDE,
            }
        )
        self._reader = RapidOCR(
            params=engine
            | {
                "Global.return_word_box": True,
                "Det.limit_type": "min",
                "Det.limit_side_len": READ_SIDE,
            }
            | ({} if full_recogniser else {"Rec.model_path": str(latin_recogniser())})
        )
        models = "PP-OCRv6" if full_recogniser else "PP-OCRv6, Latin recogniser"
        self.name = f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)} ({models})"

    def warmup(self) -> None:
        """Load the models (RapidOCR loads them lazily) on a picture with a word in it."""
        canvas = Image.new("RGB", (CHECK_SIDE, CHECK_SIDE // 2), (255, 255, 255))
        font = ImageFont.load_default(size=48)
        ImageDraw.Draw(canvas).text((20, 40), "Warm up", fill=(0, 0, 0), font=font)
        self.has_text(canvas)
        self.read(canvas)

    def has_text(self, image: Image.Image) -> bool:
        """Whether the detector sees lines of text on a small copy of ``image`` (RGB)."""
        return self.check(image) is not None

    def check(self, image: Image.Image) -> TextCheck | None:
        """The lines the detector sees on a small copy of ``image`` (RGB); None when it is sure
        of none."""
        if not _readable(image):
            return None
        result = self._checker(_bgr(image), use_det=True, use_cls=False, use_rec=False)
        scores = _field(result, "scores")
        if not any(score >= CHECK_SCORE for score in scores):
            return None
        boxes = _corners(result)
        scale = min(1.0, CHECK_SIDE / max(image.size))
        return TextCheck(boxes, scale)

    def look(self, image: Image.Image, choose: LineChoice | None = None) -> tuple[TextLine, ...]:
        """The check, then (where it finds lines) the reading it sizes, of the lines ``choose``
        picks (None: every line)."""
        check = self.check(image)
        return self.read(image, check, choose) if check is not None else ()

    def read(
        self,
        image: Image.Image,
        check: TextCheck | None = None,
        choose: LineChoice | None = None,
    ) -> tuple[TextLine, ...]:
        """The lines of text in ``image`` (RGB) in reading order, with the words kept; ``check``
        (what ``check`` found in it) sizes the work, and ``choose`` (None: every line) picks the
        lines worth recognising from all those found."""
        if not _readable(image):
            return ()
        plan = plan_reading(check, image.width, image.height, self.sizing)
        bgr = _bgr(image)
        if check is not None and plan.reuse:
            boxes = check.boxes
        elif check is not None and choose is not None and self.sizing.bands:
            boxes = self._detect_bands(bgr, check, choose, plan.scale)
        else:
            boxes = self._detect(bgr, plan.scale)
        if len(boxes) == 0:
            return ()
        if choose is None:
            return self._recognise(bgr, boxes, plan.classify)
        chosen = sorted(set(choose(_places(boxes, image.width, image.height))))
        lines = self._recognise(bgr, boxes[chosen], plan.classify) if chosen else ()
        rest = np.delete(boxes, chosen, axis=0)
        if not lines and len(rest):  # nothing worth quoting in the lines chosen: maybe elsewhere
            lines = self._recognise(bgr, rest, plan.classify)
        return lines

    def _detect_bands(
        self, bgr: np.ndarray, check: TextCheck, choose: LineChoice, scale: float | None
    ) -> np.ndarray:
        """The line boxes the detector finds across the lines of the check that ``choose`` picks,
        looking only at the bands of the picture they lie in (its time grows with the area)."""
        height, width = bgr.shape[:2]
        wanted = check.boxes[sorted(set(choose(_places(check.boxes, width, height))))]
        found = []
        with self._lock:
            detector = self._reader._load_det_model()  # type: ignore[no-untyped-call]
            for start, end in _bands(wanted, height):
                band = bgr[start:end]
                _size_detector(detector, band.shape[:2], scale)
                boxes = _corners(detector(band))
                boxes[:, :, 1] += start
                found.append(_whole(boxes, start, end, height))
        return np.concatenate(found) if found else np.zeros((0, 4, 2), dtype=np.float32)

    def _detect(self, bgr: np.ndarray, scale: float | None) -> np.ndarray:
        """The line boxes RapidOCR's detector finds on a copy ``scale`` times the picture (None:
        the short side enlarged to READ_SIDE), as pixel corners of the picture (n x 4 x 2)."""
        with self._lock:
            detector = self._reader._load_det_model()  # type: ignore[no-untyped-call]
            _size_detector(detector, bgr.shape[:2], scale)
            result = self._reader(bgr, use_det=True, use_cls=False, use_rec=False)
        return _corners(result)

    def _recognise(
        self, bgr: np.ndarray, boxes: np.ndarray, classify: bool
    ) -> tuple[TextLine, ...]:
        """The lines in ``boxes`` (pixel corners) read, each with only the words it is sure of;
        those with nothing worth quoting left out."""
        height, width = bgr.shape[:2]
        result = self._read_boxes(bgr, boxes, classify)
        kept, texts = _field(result, "boxes"), _field(result, "txts")
        scores, words = _field(result, "scores"), _field(result, "word_results")
        if len(words) != len(texts):  # no word scores to go by: each line is one word
            words = tuple(
                ((text, score, None),) for text, score in zip(texts, scores, strict=False)
            )
        lines = []
        for box, read, line_words in zip(kept, texts, words, strict=False):
            line = keep_sure_words(str(read), line_words)
            if line is None:
                continue
            text, score = line
            lines.append(TextLine(text, score, _fractions(box, width, height)))
        return tuple(lines)

    def _read_boxes(self, bgr: np.ndarray, boxes: np.ndarray, classify: bool) -> Any:
        """The lines in ``boxes`` recognised, with the fields of RapidOCR's own result."""
        from rapidocr.utils.output import RapidOCROutput

        engine = self._reader
        crops = engine.crop_text_regions(bgr, boxes.copy())
        if classify:
            crops, _ = engine.cls_and_rotate(crops)
        recognised = engine.recognize_txt(crops)
        # RapidOCR's annotations say one-element tuples where it means any length.
        texts: Any = tuple(recognised.txts or ())
        scores: Any = tuple(recognised.scores or ())
        words: Any = recognised.word_results
        if all(words):  # as RapidOCR's pipeline does: words with their boxes
            words = engine.calc_word_boxes(crops, boxes, recognised)
        if len(words) != len(boxes):  # a line without word boxes: judged whole
            words = tuple(((text, score, None),) for text, score in zip(texts, scores, strict=True))
        result = RapidOCROutput(img=bgr, boxes=boxes, txts=texts, scores=scores, word_results=words)
        return engine.filter_by_text_score(result)


def load_reader(threads: int) -> TextReader | None:
    """The reader, warmed up so that the first picture with text does not pay for loading its
    models; None (with the reason in the log) when the ``ocr`` extra is missing."""
    try:
        reader = TextReader(threads)
    except ImportError:
        log.warning(MISSING)
        return None
    reader.warmup()
    return reader


def _size_detector(detector: Any, shape: tuple[int, ...], scale: float | None) -> None:
    """Makes RapidOCR's detector look at a copy ``scale`` times a picture of ``shape`` (None:
    its short side enlarged to READ_SIDE)."""
    if scale is None:
        detector.limit_type, detector.limit_side_len = "min", READ_SIDE
    elif scale >= 1.0:
        detector.limit_type, detector.limit_side_len = "min", round(min(shape) * scale)
    else:
        detector.limit_type = "max"
        detector.limit_side_len = max(32, round(max(shape) * scale))


def _bands(boxes: np.ndarray, height: int) -> list[tuple[int, int]]:
    """The rows of a picture ``height`` pixels tall that ``boxes`` (pixel corners) lie in, with
    BAND_MARGIN of a line's height above and below, as (start, end); the first band begins at the
    picture's top (small print above the first line the check saw is still found), and bands
    that meet are merged."""
    merged: list[list[int]] = []
    for box in sorted(boxes, key=lambda box: float(box[:, 1].min())):
        top, bottom = float(box[:, 1].min()), float(box[:, 1].max())
        margin = BAND_MARGIN * (bottom - top)
        start, end = max(0, int(top - margin)), min(height, int(np.ceil(bottom + margin)))
        if not merged:
            merged.append([0, end])
        elif start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _whole(boxes: np.ndarray, start: int, end: int, height: int) -> np.ndarray:
    """The boxes (pixel corners) of the lines a band from ``start`` to ``end`` shows whole: not
    cut by its edges (slivers of the lines above and below it), unless that is the picture's."""
    tops, bottoms = boxes[:, :, 1].min(axis=1), boxes[:, :, 1].max(axis=1)
    keep = ((tops > start + EDGE) | (start == 0)) & ((bottoms < end - EDGE) | (end == height))
    whole: np.ndarray = boxes[keep]
    return whole


def keep_sure_words(line: str, words: Sequence[Any]) -> tuple[str, float] | None:
    """The line with "..." in place of the words the recogniser is unsure of, and the mean
    score of the words kept; None when nothing worth quoting is left.

    Kept words keep the line's own spacing: word boxes can split a word into its letters.
    """
    kept = ""
    scores: list[float] = []
    position = 0
    end: int | None = None  # where the last kept word ends, if no word was dropped since
    for word in words:
        text, score = str(word[0]).strip(), float(word[1])
        start = line.find(text, position) if text else -1
        if start < 0:
            continue
        position = start + len(text)
        if score < WORD_CONFIDENCE:
            kept += "" if kept.endswith(GAP) else f" {GAP}"
            end = None
            continue
        kept += (line[end:start] if end is not None else " ") + text
        scores.append(score)
        end = position
    if position == 0:  # the words were not found in the line: judge it whole
        scores = [float(np.mean([float(word[1]) for word in words]))] if words else [0.0]
        kept = line if scores[0] >= WORD_CONFIDENCE else ""
    kept = " ".join(kept.split())
    if len(_WORD_CHARACTER.findall(kept)) < MIN_CHARACTERS or not scores:
        return None
    return kept, float(np.mean(scores))


def _places(boxes: np.ndarray, width: int, height: int) -> list[tuple[float, float, float, float]]:
    """Line boxes (pixel corners) as the boxes around them, in fractions of the picture."""
    return [_fractions(box, width, height) for box in boxes]


def _sides(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The widths and heights of quadrilaterals (n x 4 x 2, clockwise from the top left)."""
    top = np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=-1)
    bottom = np.linalg.norm(boxes[:, 2] - boxes[:, 3], axis=-1)
    left = np.linalg.norm(boxes[:, 3] - boxes[:, 0], axis=-1)
    right = np.linalg.norm(boxes[:, 2] - boxes[:, 1], axis=-1)
    return (top + bottom) / 2, (left + right) / 2


def _readable(image: Image.Image) -> bool:
    short, long = sorted(image.size)
    return short >= MIN_SIDE and long <= MAX_ASPECT * short


def _field(result: Any, name: str) -> Sequence[Any]:
    """One of RapidOCR's result fields; its outputs leave out (None) what was not found."""
    value = getattr(result, name, None)
    return () if value is None else value  # type: ignore[no-any-return]


def _corners(result: Any) -> np.ndarray:
    """The line boxes of a RapidOCR result, as pixel corners (n x 4 x 2)."""
    return np.asarray(_field(result, "boxes"), dtype=np.float32).reshape(-1, 4, 2)


def _fractions(box: Any, width: int, height: int) -> tuple[float, float, float, float]:
    """A detected quadrilateral (pixel corners) as the box around it, in fractions."""
    corners = np.asarray(box, dtype=np.float64)
    left, top = corners.min(axis=0)
    right, bottom = corners.max(axis=0)
    return (
        float(np.clip(left / width, 0.0, 1.0)),
        float(np.clip(top / height, 0.0, 1.0)),
        float(np.clip(right / width, 0.0, 1.0)),
        float(np.clip(bottom / height, 0.0, 1.0)),
    )


def _bgr(image: Image.Image) -> np.ndarray:
    """OpenCV's channel order, which RapidOCR expects of arrays."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


def _log_through_the_service(logger: logging.Logger) -> None:
    """RapidOCR gives its logger a coloured console handler of its own; its warnings belong in
    the service's log lines instead."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True

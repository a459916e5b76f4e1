"""The readers the reading benchmark compares: ours before and after the check sized the work,
RapidOCR's own default pipeline, and Tesseract 5 (the ``tesseract`` command, Debian's
``tesseract-ocr``), each giving lines as ``(text, (left, top, right, bottom) in fractions)``."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from imagecaption.models.offline.text import (
    UNSIZED,
    LineChoice,
    TextReader,
    _bgr,
    _fractions,
)

Line = tuple[str, tuple[float, float, float, float]]
Reader = Callable[[Image.Image], list[Line]]


def ours(
    threads: int,
    *,
    before: bool = False,
    choose: LineChoice | None = None,
    full_recogniser: bool = False,
) -> Reader:
    """The offline captioner's read stage: its check, then the reading (sized by the check, or
    as it was before: the short side enlarged to 544, the angle classifier always), of every
    line or of those ``choose`` picks (the caption's, without details), by the shipped Latin
    recogniser or RapidOCR's full one."""
    reader = TextReader(threads, UNSIZED if before else None, full_recogniser=full_recogniser)
    reader.warmup()

    def read(image: Image.Image) -> list[Line]:
        return [(line.text, line.box) for line in reader.look(image, choose)]

    return read


def rapidocr_default(threads: int) -> Reader:
    """RapidOCR as installed, with nothing changed but the threads: its detector on the short
    side enlarged to 736, the angle classifier always, every line it keeps."""
    from rapidocr import RapidOCR

    engine = RapidOCR(
        params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )

    def read(image: Image.Image) -> list[Line]:
        result: Any = engine(_bgr(image))
        if result.boxes is None or result.txts is None:
            return []
        return [
            (str(text), _fractions(box, image.width, image.height))
            for box, text in zip(result.boxes, result.txts, strict=False)
        ]

    read(Image.new("RGB", (64, 64), "white"))
    return read


TESSERACT = "tesseract"


def tesseract_version() -> str | None:
    """The installed Tesseract's version line, None when it is missing."""
    if shutil.which(TESSERACT) is None:
        return None
    out = subprocess.run([TESSERACT, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0]


def tesseract(threads: int) -> Reader:
    """Tesseract 5's default LSTM engine and page segmentation, English, through its command
    (a PNG on standard input, TSV out): one process per picture, as a service calling it would."""
    environment = os.environ | {"OMP_THREAD_LIMIT": str(threads)}

    def read(image: Image.Image) -> list[Line]:
        png = io.BytesIO()
        image.save(png, "PNG")
        out = subprocess.run(
            [TESSERACT, "stdin", "stdout", "-l", "eng", "tsv"],
            input=png.getvalue(),
            capture_output=True,
            check=True,
            env=environment,
        ).stdout.decode()
        return tesseract_lines(out, image.width, image.height)

    return read


def tesseract_lines(tsv: str, width: int, height: int) -> list[Line]:
    """Tesseract's words (TSV rows of level 5) joined into its lines, with the lines' boxes."""
    lines: dict[tuple[str, ...], list[tuple[str, int, int, int, int]]] = {}
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) < 12 or fields[0] != "5" or not fields[11].strip():
            continue
        left, top, w, h = (int(value) for value in fields[6:10])
        lines.setdefault(tuple(fields[1:5]), []).append((fields[11], left, top, w, h))
    found: list[Line] = []
    for words in lines.values():
        corners = np.array([[x, y, x + w, y + h] for _, x, y, w, h in words], dtype=np.float64)
        left, top = corners[:, 0].min(), corners[:, 1].min()
        right, bottom = corners[:, 2].max(), corners[:, 3].max()
        box = (left / width, top / height, right / width, bottom / height)
        found.append((" ".join(word for word, *_ in words), box))
    return found

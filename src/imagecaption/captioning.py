"""Captioning local files in batches, shared by the CLI and the benchmarks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image

from imagecaption.errors import ServiceError
from imagecaption.images import decode_image
from imagecaption.models.base import Captioner, CaptionOptions


def caption_files(
    captioner: Captioner,
    files: Sequence[Path],
    max_pixels: int,
    batch_size: int,
    read_text: bool = True,
) -> Iterator[tuple[Path, str | None, str | None]]:
    """Yield (file, caption, error) for every file; a bad file is reported, never fatal.
    ``read_text`` says whether captions quote the words in the pictures, as the API's option."""
    step = max(batch_size, 1)
    for chunk in (files[start : start + step] for start in range(0, len(files), step)):
        decoded: list[tuple[Path, Image.Image]] = []
        for path in chunk:
            try:
                decoded.append((path, decode_image(path.read_bytes(), max_pixels=max_pixels)))
            except ServiceError as error:
                yield path, None, error.message
            except OSError as error:
                yield path, None, f"cannot read file: {error.strerror}"
        if decoded:
            options = CaptionOptions(read_text=read_text)
            captions = captioner.caption_batch([image for _, image in decoded], options)
            for (path, _), result in zip(decoded, captions, strict=True):
                yield path, result.text, None

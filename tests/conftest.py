"""Shared fixtures: real photographs that ship with scikit-image and matplotlib."""

from __future__ import annotations

import io

import pytest
from PIL import Image


def photo(name: str) -> Image.Image:
    """A real photograph by name, from packages the test extra installs."""
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            return Image.open(handle).convert("RGB")
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def cat_jpeg() -> bytes:
    return encode(photo("chelsea"))

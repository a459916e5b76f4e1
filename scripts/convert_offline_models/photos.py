"""The real photographs the references are recorded on: the ones the tests load too."""

from __future__ import annotations

from PIL import Image

REFERENCE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "grace_hopper")


def photo(name: str) -> Image.Image:
    """Same loader as the tests' ``photo()``: scikit-image's and matplotlib's sample images."""
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            return Image.open(handle).convert("RGB")
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")

"""The allocator setting that gives large image buffers back to the operating system."""

from __future__ import annotations

import platform
import sys

import pytest

from imagecaption.images.heap import set_mmap_threshold

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_zero_leaves_the_allocator_alone() -> None:
    assert set_mmap_threshold(0) is False


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_glibc_takes_the_threshold() -> None:
    assert set_mmap_threshold(4 * 1024 * 1024) is True

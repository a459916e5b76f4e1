"""Give the memory of large decoded images back to the operating system when they are freed.

glibc's malloc serves a large allocation with its own mapping and unmaps it on free, but it
raises that threshold to the size of each such block freed (up to 32 MB), so after the first
large image, Pillow's image blocks (up to 16 MB each) come from the heaps of the worker threads
that decoded them, where they stay after they are freed. Measured with eight 40-megapixel WebP
images at once on an offline server: 261 MB more resident after the burst than before it,
and a peak 117 MB higher; with a fixed threshold, the memory returns to what it was. Setting the
threshold also ends glibc's dynamic adjustment, which is the point.

Other C libraries (musl) allocate differently and have no ``mallopt``: nothing is changed there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>


def set_mmap_threshold(size_bytes: int) -> bool:
    """Serve allocations of ``size_bytes`` and more from mappings of their own, for the whole
    process; True where the C library took it. 0 leaves the allocator as it is."""
    if size_bytes <= 0:
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        log.debug("no mallopt in the C library (%s): allocator left as it is", name)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size_bytes))

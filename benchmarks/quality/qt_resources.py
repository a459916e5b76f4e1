"""Files read out of a compiled Qt resource bundle (``.rcc``), without Qt.

Some packages ship their pictures inside such bundles (GCompris keeps one per activity), and
loading one through Qt would need the whole Qt library for a few files. The format is small
and stable (qtbase's ``rcc.cpp``): a header, a tree of nodes, a table of names and the data, each
file optionally compressed with zlib or zstd.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

MAGIC = b"qres"
COMPRESSED = 0x01
DIRECTORY = 0x02
COMPRESSED_ZSTD = 0x04


def read(bundle: Path, member: str) -> bytes:
    """The file at ``member`` (a path inside the bundle, without the leading ``:/``)."""
    for name, data in members(bundle.read_bytes()):
        if name == member.strip("/"):
            return data
    raise KeyError(f"{member} is not in {bundle.name}")


def members(blob: bytes) -> Iterator[tuple[str, bytes]]:
    """Every file of a bundle as (path, contents), directories walked in the bundle's order."""
    if blob[:4] != MAGIC:
        raise ValueError("not a Qt resource bundle (no 'qres' header)")
    version, tree, data, names = struct.unpack_from(">IIII", blob, 4)
    if version not in (1, 2, 3):
        raise ValueError(f"Qt resource bundle version {version} is not supported")
    node_size = 14 if version == 1 else 22  # version 2 added each node's modification time
    reader = _Bundle(blob, tree, data, names, node_size)
    yield from reader.walk(0, "")


class _Bundle:
    def __init__(self, blob: bytes, tree: int, data: int, names: int, node_size: int) -> None:
        self.blob, self.tree, self.data, self.names = blob, tree, data, names
        self.node_size = node_size

    def walk(self, index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        offset = self.tree + index * self.node_size
        name_offset, flags = struct.unpack_from(">IH", self.blob, offset)
        path = prefix + self.name(name_offset) if index else ""
        if flags & DIRECTORY:
            count, first = struct.unpack_from(">II", self.blob, offset + 6)
            for child in range(first, first + count):
                yield from self.walk(child, path + "/" if path else "")
            return
        (data_offset,) = struct.unpack_from(">I", self.blob, offset + 10)
        yield path, self.contents(data_offset, flags)

    def name(self, offset: int) -> str:
        (length,) = struct.unpack_from(">H", self.blob, self.names + offset)
        start = self.names + offset + 6  # the length, then a 4-byte hash, then UTF-16 text
        return self.blob[start : start + 2 * length].decode("utf-16-be")

    def contents(self, offset: int, flags: int) -> bytes:
        (size,) = struct.unpack_from(">I", self.blob, self.data + offset)
        start = self.data + offset + 4
        payload = self.blob[start : start + size]
        if flags & COMPRESSED:  # qCompress: the plain size, then a zlib stream
            return zlib.decompress(payload[4:])
        if flags & COMPRESSED_ZSTD:
            raise ValueError("zstd-compressed Qt resources are not supported")
        return payload

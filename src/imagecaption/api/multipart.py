"""A fast reading of small, plainly formed multipart bodies, the shape almost every upload has.

Starlette's form parser (python-multipart's state machine, a spooled temporary file and an
``UploadFile`` per file, callbacks per chunk) cost a cached call more than everything else the
call does; for a body already in memory, finding the boundaries with ``bytes.split`` gives the
same fields. Only the plain case is read here: a body that opens with the boundary, closes with
it, and whose every part has well-formed headers naming the part. Anything else (a preamble or
epilogue, bare LF line ends, a header without a colon, a part without a name, more files or
fields than allowed, a field over its size limit, a charset parameter) returns None, and the
caller hands the same bytes to Starlette's parser, whose answer (or refusal) stands.
"""

from __future__ import annotations

import re

from python_multipart.multipart import parse_options_header

SMALL_BODY_BYTES = 1024 * 1024
"""Bodies up to this size are read whole and parsed here: Starlette keeps a file part of this
size in memory too (its spool's limit), so memory per call stays what it was."""

_HEADER_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# The shapes clients send, read as ``parse_options_header`` reads them, at a fraction of its
# cost; any other shape goes through it.
_PLAIN_CONTENT_TYPE = re.compile(r"multipart/form-data; ?boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})")
_PLAIN_DISPOSITION = re.compile(rb'form-data; name="([^"\\]*)"(?:; filename="([^"\\]*)")?')

Parts = dict[str, "str | bytes"]
"""Each part by name, the last one of a name winning as in Starlette's ``FormData``: text fields
as ``str``, files (parts with a filename) as ``bytes``."""


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type that names no charset."""
    plain = _PLAIN_CONTENT_TYPE.fullmatch(content_type)
    if plain is not None:
        return plain[1].encode()
    _, params = parse_options_header(content_type)
    if b"charset" in params:
        return None
    boundary = params.get(b"boundary")
    return boundary or None


def parse_small(
    body: bytes, boundary: bytes, *, max_files: int, max_fields: int, max_field_bytes: int
) -> Parts | None:
    """The parts of ``body``, or None when it is not plainly formed (see the module's doc)."""
    delimiter = b"--" + boundary
    opening = delimiter + b"\r\n"
    closing = b"\r\n" + delimiter + b"--"
    if not body.startswith(opening):
        return None
    end = body.rfind(closing)
    if end < len(opening) - 2 or body[end + len(closing) :] not in (b"", b"\r\n"):
        return None
    parts: Parts = {}
    files = fields = 0
    for part in body[len(opening) : end].split(b"\r\n" + delimiter + b"\r\n"):
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator or b"\r\n" + delimiter in content:  # a delimiter not split on
            return None
        named = _name_and_filename(head)
        if named is None:
            return None
        name, is_file = named
        if is_file:
            files += 1
            if files > max_files:
                return None
            parts[name] = content
        else:
            fields += 1
            if fields > max_fields or len(content) > max_field_bytes:
                return None
            parts[name] = _decode(content)
    return parts


def _name_and_filename(head: bytes) -> tuple[str, bool] | None:
    """The part's name and whether it is a file, from its headers; None if they are odd."""
    disposition = None
    for line in head.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            return None
        if name.lower() == b"content-disposition":
            disposition = value.strip()
    if disposition is None:
        return None
    plain = _PLAIN_DISPOSITION.fullmatch(disposition)
    if plain is not None:
        return _decode(plain[1]), plain[2] is not None
    _, options = parse_options_header(disposition)
    field_name = options.get(b"name")
    if field_name is None:
        return None
    return _decode(field_name), b"filename" in options


def _decode(value: bytes) -> str:
    """As Starlette decodes a field: UTF-8, else Latin-1 (which decodes anything)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")

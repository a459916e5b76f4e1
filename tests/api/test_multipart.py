"""The fast multipart reading gives Starlette's parts, or declines and leaves the body to it."""

from __future__ import annotations

import asyncio

import pytest
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.requests import Request

from imagecaption.api import multipart

BOUNDARY = "b0uNdary-7MA4YWxk"
LIMITS = {"max_files": 2, "max_fields": 32}


def part(headers: str, content: bytes) -> bytes:
    return headers.encode() + b"\r\n\r\n" + content


def body(*parts: bytes, boundary: str = BOUNDARY, epilogue: bytes = b"\r\n") -> bytes:
    delimiter = b"--" + boundary.encode()
    inner = b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in parts)
    return inner + delimiter + b"--" + epilogue


IMAGE = bytes(range(256)) * 40 + b"\r\n--b0uNdary" + b"\r\n\r\n tail"
FILE = part('Content-Disposition: form-data; name="image"; filename="p.jpg"', IMAGE)
FILE_TYPED = part(
    'content-disposition: form-data; name="image"; filename="a b.png"\r\nContent-Type: image/png',
    IMAGE,
)


def field(name: str, value: bytes) -> bytes:
    return part(f'Content-Disposition: form-data; name="{name}"', value)


def starlette_parts(raw: bytes, content_type: str) -> dict[str, str | bytes] | str:
    """What Starlette's parser makes of the body: the parts, or the name of its refusal."""

    async def parse() -> dict[str, str | bytes]:
        sent = False

        async def receive() -> dict[str, object]:
            nonlocal sent
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "query_string": b"",
            "headers": [(b"content-type", content_type.encode())],
        }
        form = await Request(scope, receive).form(**LIMITS, max_part_size=1024 * 1024)
        found: dict[str, str | bytes] = {}
        for name, value in form.items():
            found[name] = await value.read() if isinstance(value, UploadFile) else value
        await form.close()
        return found

    try:
        return asyncio.run(parse())
    except Exception as refusal:
        return type(refusal).__name__


def fast_parts(raw: bytes, content_type: str) -> multipart.Parts | None:
    boundary = multipart.boundary_of(content_type)
    if boundary is None:
        return None
    return multipart.parse_small(raw, boundary, **LIMITS, max_field_bytes=1024 * 1024)


PLAIN = f"multipart/form-data; boundary={BOUNDARY}"

ACCEPTED = {
    "one file": body(FILE),
    "file and fields": body(field("lang", b"de"), FILE_TYPED, field("details", b"true")),
    "a field named twice, the last wins": body(field("lang", b"de"), field("lang", b"fr"), FILE),
    "a file then a field of the same name": body(FILE, field("image", b"https://e.org/a.jpg")),
    "no final line break": body(FILE, epilogue=b""),
    "a field in Latin-1": body(field("lang", "caf\u00e9".encode("latin-1")), FILE),
    "a field in UTF-8": body(field("lang", "caf\u00e9".encode()), FILE),
    "an empty file": body(part('Content-Disposition: form-data; name="image"; filename=""', b"")),
    "disposition with odd spacing": body(
        part('Content-Disposition:form-data;  name="image" ; filename="x"', IMAGE)
    ),
}


@pytest.mark.parametrize("raw", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_plain_bodies_read_as_starlette_reads_them(raw: bytes) -> None:
    fast = fast_parts(raw, PLAIN)
    assert fast is not None
    assert fast == starlette_parts(raw, PLAIN)


DECLINED = {
    "a preamble": b"preamble\r\n" + body(FILE),
    "an epilogue": body(FILE, epilogue=b"\r\nepilogue"),
    "bare LF line ends": body(FILE).replace(b"\r\n", b"\n"),
    "a header without a colon": body(part("Content-Disposition form-data", b"x")),
    "a part without a name": body(part("Content-Disposition: form-data", b"x"), FILE),
    "a part without headers": body(part("", b"x"), FILE),
    "a part without a blank line": body(b'Content-Disposition: form-data; name="a"', FILE),
    "three files": body(FILE, FILE, FILE),
    "a boundary with padding": body(FILE).replace(
        f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY}  \r\n".encode()
    ),
    "a delimiter inside a part": body(field("a", b"x\r\n--" + BOUNDARY.encode() + b"z"), FILE),
    "no closing delimiter": body(FILE)[:-4],
    "empty": b"",
}


@pytest.mark.parametrize("raw", DECLINED.values(), ids=DECLINED.keys())
def test_unusual_bodies_are_left_to_starlette(raw: bytes) -> None:
    assert fast_parts(raw, PLAIN) is None


def test_too_many_fields_and_too_large_fields_are_left_to_starlette() -> None:
    boundary = BOUNDARY.encode()
    fields = body(*(field(f"f{i}", b"1") for i in range(33)), FILE)
    assert multipart.parse_small(fields, boundary, **LIMITS, max_field_bytes=10) is None
    large = body(field("lang", b"x" * 11), FILE)
    assert multipart.parse_small(large, boundary, **LIMITS, max_field_bytes=10) is None
    assert multipart.parse_small(large, boundary, **LIMITS, max_field_bytes=11) is not None


@pytest.mark.parametrize(
    "content_type",
    [
        PLAIN,
        f"multipart/form-data;boundary={BOUNDARY}",
        "multipart/form-data; boundary=a'()+_,./:=?-9",
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"Multipart/Form-Data; Boundary={BOUNDARY}",
        f"multipart/form-data; boundary={BOUNDARY}; other=1",
    ],
)
def test_the_boundary_is_the_one_python_multipart_reads(content_type: str) -> None:
    assert multipart.boundary_of(content_type) == parse_options_header(content_type)[1].get(
        b"boundary"
    )


def test_a_charset_or_no_boundary_is_left_to_starlette() -> None:
    assert multipart.boundary_of(PLAIN + "; charset=latin-1") is None
    assert multipart.boundary_of("multipart/form-data") is None

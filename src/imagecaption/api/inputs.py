"""Turns the three ways of sending an image (multipart, JSON, form) into bytes and options."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request

from imagecaption.api import multipart
from imagecaption.api.schemas import CaptionParams
from imagecaption.errors import BadInput, ServiceError
from imagecaption.images import (
    ImageFetcher,
    classify_image_value,
    decode_inline_image,
    payload_too_large,
)

NO_IMAGE = (
    "No image was sent. Upload a file in the multipart field 'image', or send JSON "
    '{"image": "<URL, data URI or base64>"} or {"url": "<URL>"}.'
)

_FORM_LIMITS = {"max_files": 2, "max_fields": 32}


@dataclass(frozen=True)
class ImageRequest:
    data: bytes
    params: CaptionParams
    source: str  # "upload", "url" or "inline", for logs and details


async def read_image_request(
    request: Request, fetcher: ImageFetcher, max_bytes: int
) -> ImageRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, Any] = dict(request.query_params)
    # The body's options override the query's, but a wrong value in the query is still wrong:
    # every option as documented, wherever it is given.
    _params(fields)
    if content_type == "multipart/form-data":
        parts = await _small_multipart(request, max_bytes)
        if parts is not None:
            fields |= {k: v for k, v in parts.items() if isinstance(v, str)}
            image = parts.get("image")
            if isinstance(image, bytes):
                _check_size(image, max_bytes)
                return ImageRequest(image, _params(fields), "upload")
        else:
            form = await _form(request, max_bytes)
            fields |= {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
            upload = form.get("image")
            if isinstance(upload, UploadFile):
                data = await upload.read(max_bytes + 1)
                await form.close()
                _check_size(data, max_bytes)
                return ImageRequest(data, _params(fields), "upload")
            await form.close()
    elif content_type == "application/x-www-form-urlencoded":
        fields |= dict(await _form(request, max_bytes))
    elif content_type in ("application/json", "text/json", ""):
        body = await request.body()
        if body or content_type:
            fields |= _json_object(body)
    elif content_type.startswith("image/") or content_type == "application/octet-stream":
        data = await request.body()
        _check_size(data, max_bytes)
        return ImageRequest(data, _params(fields), "upload")
    else:
        raise BadInput(
            f"Unsupported Content-Type {content_type!r}: use multipart/form-data, "
            "application/json or application/x-www-form-urlencoded."
        )
    value = fields.get("image") or fields.get("url")
    if not isinstance(value, str) or not value.strip():
        raise BadInput(NO_IMAGE)
    value = value.strip()
    params = _params(fields)
    if classify_image_value(value) == "url":
        return ImageRequest(await fetcher.fetch(value), params, "url")
    return ImageRequest(decode_inline_image(value, max_bytes), params, "inline")


async def _small_multipart(request: Request, max_bytes: int) -> multipart.Parts | None:
    """A small multipart body's parts, read whole and split here (``api.multipart``); None
    for a large body or an unusual one, which Starlette's parser reads (the bytes read here are
    kept by the request for it)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > multipart.SMALL_BODY_BYTES:
        return None
    boundary = multipart.boundary_of(request.headers["content-type"])
    if boundary is None:
        return None
    return multipart.parse_small(
        await request.body(), boundary, **_FORM_LIMITS, max_field_bytes=2 * max_bytes
    )


async def _form(request: Request, max_bytes: int) -> FormData:
    """Parse a form whose text fields may carry an image as base64 (a data URI), like JSON.

    Starlette caps every text field at 1 MB by default, which refused such images above about
    750 KB that JSON accepted; the cap here is the room the body limit gives base64.
    """
    try:
        return await request.form(**_FORM_LIMITS, max_part_size=2 * max_bytes)
    except (ServiceError, ClientDisconnect):  # too large, too slow, or the client went away
        raise
    except Exception as exc:  # malformed multipart bodies come in many exception types
        raise BadInput("The form data could not be parsed.") from exc


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("The request body is not valid JSON.") from None
    except RecursionError:  # the C parser's guard against deep nesting ([[[[...]]]])
        raise BadInput("The request body is not valid JSON: it is nested too deeply.") from None
    if not isinstance(parsed, dict):
        raise BadInput('The JSON body must be an object such as {"image": "..."}.')
    return parsed


def _params(fields: dict[str, Any]) -> CaptionParams:
    try:
        return CaptionParams.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise BadInput(f"Invalid options: {problems}") from None


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise payload_too_large(max_bytes)

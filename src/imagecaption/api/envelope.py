"""The seed's response envelope, rendered as JSON, XML, YAML or CSV by the Accept header.

Errors use the same envelope in the same format, so a client that asked for XML never has to
parse JSON just because something went wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

import yaml
from fastapi.responses import Response

JSON = "application/json"
XML = "application/xml"
YAML = "application/yaml"
CSV = "text/csv"

_MEDIA_TYPES = {
    "application/json": JSON,
    "text/json": JSON,
    "application/xml": XML,
    "text/xml": XML,
    "application/yaml": YAML,
    "application/x-yaml": YAML,
    "text/yaml": YAML,
    "text/x-yaml": YAML,
    "text/csv": CSV,
    "application/csv": CSV,
}

_XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "error": None, "data": data}


def error(message: str) -> dict[str, Any]:
    return {"status": "error", "error": message, "data": None}


def negotiate(accept: str | None) -> str:
    """Pick the best supported format; JSON for */*, for nothing, or for anything unknown."""
    if not accept:
        return JSON
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = _MEDIA_TYPES.get(media.strip().lower())
        if media_type and quality > 0:
            choices.append((-quality, position, media_type))
    return min(choices)[2] if choices else JSON


def render(
    envelope: dict[str, Any],
    accept: str | None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``headers`` are given here rather than added to the response afterwards, where each one
    would be looked for among those already set."""
    media_type = negotiate(accept)
    body = _RENDERERS[media_type](envelope)
    return Response(body, status_code=status_code, headers=headers, media_type=media_type)


def _json(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, ensure_ascii=False)


def _yaml(envelope: dict[str, Any]) -> str:
    return yaml.safe_dump(envelope, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _xml(envelope: dict[str, Any]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>"]
    for key, value in envelope.items():
        lines.extend(_xml_element(key, value, depth=1))
    lines.append("</response>")
    return "\n".join(lines) + "\n"


def _xml_element(name: str, value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if value is None:
        return [f'{pad}<{name} xsi:nil="true" {_XSI}/>']
    if isinstance(value, dict):
        inner = [line for key, item in value.items() for line in _xml_element(key, item, depth + 1)]
        return [f"{pad}<{name}>", *inner, f"{pad}</{name}>"]
    if isinstance(value, list):
        inner = [line for item in value for line in _xml_element("item", item, depth + 1)]
        return [f"{pad}<{name}>", *inner, f"{pad}</{name}>"]
    return [f"{pad}<{name}>{escape(_scalar(value))}</{name}>"]


def _csv(envelope: dict[str, Any]) -> str:
    """``key,value``, the ``status`` row, then one row per data field, or an error's message.

    Success and error answers both start with the status row, so a reader tells them apart the
    same way whatever the answer was."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["key", "value"])
    writer.writerow(["status", envelope["status"]])
    data = envelope.get("data")
    if data is None:
        writer.writerow(["error", envelope["error"]])
    else:
        for key, value in data.items():
            writer.writerow([key, _scalar(value)])
    return buffer.getvalue()


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_RENDERERS = {JSON: _json, XML: _xml, YAML: _yaml, CSV: _csv}

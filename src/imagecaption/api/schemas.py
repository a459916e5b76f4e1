"""Request and response shapes, so that /openapi.json describes the real contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from imagecaption.models.base import CaptionOptions, Detail


class CaptionParams(BaseModel):
    """Opt-in options beyond the seed; without them the response is exactly the seed's."""

    model_config = ConfigDict(extra="ignore")

    max_length: int | None = Field(
        default=None, ge=1, le=200, description="Longest caption wanted, in words."
    )
    num_captions: int = Field(
        default=1, ge=1, le=10, description="How many candidate captions, with scores."
    )
    details: bool = Field(
        default=False,
        description="Add model name, timings and, for models that detect them, the objects "
        "found (label, score, box in pixels) to data, the text read in the picture "
        "(text, score, box in pixels) where it was read, and tags (name, score) for every "
        "thing, setting and activity found, for models that tag.",
    )
    detail: Detail | None = Field(
        default=None,
        description="How much the caption says: brief, detailed or more_detailed. Only for "
        "models that offer it (/readyz lists model.detail_levels); others answer 400.",
    )

    read_text: bool | None = Field(
        default=None,
        description="Whether the caption quotes the words seen in the picture (a sign, a "
        "screenshot's title, a page); the server's read_text setting when left out.",
    )

    def to_options(self, read_text: bool = True) -> CaptionOptions:
        """The options for the model; ``read_text`` is the server's default for reading."""
        return CaptionOptions(
            max_length=self.max_length,
            num_captions=self.num_captions,
            detail=self.detail,
            read_text=read_text if self.read_text is None else self.read_text,
            every_line=self.details,
        )


def option_schemas() -> dict[str, dict[str, Any]]:
    """Each option as the OpenAPI document shows it, with its type, limits and default.

    Options come as query parameters, form fields or JSON members, read by the same
    ``CaptionParams``; in a query or a form a value is text parsed as that type, never null, so
    each option is given its one real type (left out, it takes its default).
    """
    options: dict[str, dict[str, Any]] = {}
    for name, field in CaptionParams.model_json_schema()["properties"].items():
        (typed,) = [v for v in field.get("anyOf", [field]) if v.get("type") != "null"]
        option = {k: v for k, v in typed.items() if k not in ("title", "default", "description")}
        if field.get("default") is not None:
            option["default"] = field["default"]
        options[name] = option | {"description": field["description"]}
    return options


def option_parameters() -> list[dict[str, Any]]:
    """The options as the query parameters of an OpenAPI operation."""
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": option["description"],
            "schema": {k: v for k, v in option.items() if k != "description"},
        }
        for name, option in option_schemas().items()
    ]


def _image_or_url_required(schema: dict[str, Any]) -> None:
    """One of the two, as a non-empty string, is what the server accepts; the document says so,
    so that requests generated to fit it are requests the server can answer. The options may
    come beside them."""
    for name in ("image", "url"):
        field = schema["properties"][name]
        schema["properties"][name] = {
            "type": "string",
            "minLength": 1,
            "description": field["description"],
        }
    schema["properties"] |= option_schemas()
    schema["anyOf"] = [{"required": ["image"]}, {"required": ["url"]}]


class CaptionJsonBody(BaseModel):
    """What the vendor SDKs' ``execute`` (``image``) and ``execute_with_url`` (``url``) send."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_image_or_url_required)

    image: str | None = Field(
        default=None, description="An http(s) URL, a data:image/...;base64, URI, or bare base64."
    )
    url: str | None = Field(default=None, description="An http(s) URL of the image.")


class CaptionData(BaseModel):
    caption: str
    captions: list[dict[str, Any]] | None = None
    model: str | None = None
    timing_ms: dict[str, float] | None = None
    objects: list[dict[str, Any]] | None = None
    text: list[dict[str, Any]] | None = None
    tags: list[dict[str, Any]] | None = None


class Envelope(BaseModel):
    status: str = Field(examples=["ok"])
    error: str | None = None
    data: dict[str, Any] | None = Field(default=None, examples=[{"caption": "A tabby cat."}])

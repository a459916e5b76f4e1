"""The OpenAPI document's error examples, whole.

FastAPI leaves every None out of the document it generates, so an error example written as the
envelope (``{"status": "error", "error": "...", "data": null}``) lost its ``data`` and no longer
showed what a client receives. The generated document is completed once, when first asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from imagecaption.api.auth import API_KEY_HEADER


def complete_error_examples(schema: dict[str, Any]) -> dict[str, Any]:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for answer in operation.get("responses", {}).values():
                for media in answer.get("content", {}).values():
                    example = media.get("example")
                    if isinstance(example, dict) and example.get("status") == "error":
                        example.setdefault("data", None)
    return schema


def declare_api_key(schema: dict[str, Any]) -> dict[str, Any]:
    """The caption endpoint reads its key without FastAPI's injection (``auth.authenticated``),
    so the scheme its operation names is declared here, as injection would have declared it."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[API_KEY_HEADER.scheme_name] = API_KEY_HEADER.model.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return schema


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_api_key(complete_error_examples(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

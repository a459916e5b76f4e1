"""HTML out: templates with autoescaping on, and the security headers on every page and asset.

Autoescaping is what keeps key names, captions and URLs (all user or model data) inert; no
template marks anything as safe.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from imagecaption import __version__
from imagecaption.web.security import PAGE_HEADERS

STATIC_PATH = "/ui/static"

_templates = Environment(
    loader=PackageLoader("imagecaption.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# The version in asset URLs lets browsers cache assets yet fetch new ones after an upgrade.
_templates.globals["static"] = lambda path: f"{STATIC_PATH}/{path}?v={__version__}"
_templates.globals["version"] = __version__


def page(
    template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    body = _templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS | (headers or {}))


class StaticAssets(StaticFiles):
    """The package's own CSS, JS and icons, with the same headers as the pages."""

    def __init__(self) -> None:
        super().__init__(packages=[("imagecaption.web", "static")])

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS | {"Cache-Control": "public, max-age=3600"})
        return response

"""GET /docs: Swagger UI inside the site's own page, so the API docs are part of the site.

The page brings what Swagger UI's bare page lacks: the site's navigation, a language, a main
landmark and headings in order, and styles with readable contrast (``docs.css``). Swagger UI's
script and style are the copies fastapi-offline ships, served by this server: no CDN. It is
started by ``docs.js`` rather than an inline script, so the strict Content-Security-Policy of the
other pages holds here too.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.web.access import nav_state
from imagecaption.web.render import page
from imagecaption.web.state import ServicesDep, WebDep

SWAGGER_UI_ASSETS = "/static-offline-docs"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def api_docs(request: Request, web: WebDep, svc: ServicesDep) -> Response:
    return page(
        "docs.html",
        openapi_url=request.app.openapi_url,
        swagger_ui_js=f"{SWAGGER_UI_ASSETS}/swagger-ui-bundle.js",
        swagger_ui_css=f"{SWAGGER_UI_ASSETS}/swagger-ui.css",
        **nav_state(request, web, svc.store),
    )

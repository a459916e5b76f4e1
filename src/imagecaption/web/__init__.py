"""The service's own web pages: the playground, the key holder's dashboard, the operator pages.

Plain HTML, CSS and JavaScript shipped in the package and served by the API's own server: no
build step, nothing loaded from another site.
"""

from __future__ import annotations

from fastapi import APIRouter

from imagecaption.settings import Settings
from imagecaption.web import caption, docs, pages, status
from imagecaption.web.admin import router as admin_router
from imagecaption.web.admin_off import router as admin_off_router
from imagecaption.web.docs import SWAGGER_UI_ASSETS
from imagecaption.web.render import STATIC_PATH, StaticAssets
from imagecaption.web.state import admin_token_of, web_lifespan

router = APIRouter(lifespan=web_lifespan)
router.include_router(pages.router)
router.include_router(caption.router)
router.include_router(status.router)
router.include_router(docs.router)


def admin_enabled(settings: Settings) -> bool:
    return admin_token_of(settings) is not None


__all__ = [
    "STATIC_PATH",
    "SWAGGER_UI_ASSETS",
    "StaticAssets",
    "admin_enabled",
    "admin_off_router",
    "admin_router",
    "router",
]

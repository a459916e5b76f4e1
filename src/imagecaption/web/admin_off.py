"""``/admin`` on a server whose operator set no admin token: how to turn the operator pages on.

Someone who opens /admin has usually just read that the operator pages are there; a bare "page
not found" left them guessing. The answer is still 404, since there is no operator page to
serve, but it says how to enable one. Only /admin itself says so: every other operator path
answers the plain 404 of an address that never existed.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.api.envelope import error, render
from imagecaption.web.error_pages import prefers_html
from imagecaption.web.render import page

router = APIRouter(include_in_schema=False)

ADMIN_OFF = "The operator pages are off on this server: no admin token is set."
HOW_TO_ENABLE = (
    "To turn them on, restart the server with a long random token in IMAGECAPTION_ADMIN_TOKEN "
    "(or admin_token in its config file), for example: "
    "IMAGECAPTION_ADMIN_TOKEN=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\" "
    ".venv/bin/imagecaption serve. Then sign in here with that token."
)


@router.api_route("/admin", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@router.api_route("/admin/", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def admin_off(request: Request) -> Response:
    """Only a look at the page gets the explanation; anything else, the plain 404."""
    if request.method not in ("GET", "HEAD"):
        raise HTTPException(404)
    if not prefers_html(request.headers.get("accept")):
        return render(error(f"{ADMIN_OFF} {HOW_TO_ENABLE}"), request.headers.get("accept"), 404)
    return page(
        "error.html",
        404,
        title="Operator pages are off",
        message=ADMIN_OFF,
        hint=HOW_TO_ENABLE,
        back_href="/",
        back_label="Back to the playground",
        code=404,
        request_id=getattr(request.state, "request_id", None),
        signed_in=None,
    )

"""Error pages for people: a browser that asks for HTML gets a page, not the API's envelope.

Browsers list XML in their Accept header, so without this a mistyped address, a reloaded form
or a failed cross-site check would show them a raw XML document. Programs keep the envelope in
the format they ask for, and the API's own paths answer with the envelope whoever asks.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from imagecaption.web.render import page

API_PREFIXES = ("/v1/", "/ui/api/")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

TITLES = {
    400: "That request could not be used",
    401: "Not signed in",
    403: "Refused",
    404: "Page not found",
    405: "Not a page to open",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Busy right now",
}
# The API's messages for these name HTTP notions; people get what they mean for them.
NOT_FOUND = "There is no page at this address."
FORM_ONLY = "This address only receives forms sent from the pages; there is nothing to show here."
HINTS = {
    403: "Reloading the page you came from gives it a fresh form.",
    404: "Check the address for typos, or start again from one of the pages above.",
    405: "If you reloaded after sending a form, what you sent was already done.",
    429: "Wait a little, then try again.",
    500: "Try again; if it happens again, the server's log has the details under the request id.",
    503: "Try again in a few seconds.",
}


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def prefers_html(accept: str | None) -> bool:
    """True when HTML is the client's first choice among the formats it names.

    Wildcards name no format, so ``*/*`` (curl, SDKs) never asks for HTML; ties go to the type
    listed first, as browsers list HTML first.
    """
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept or "").split(",")):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        quality = _quality(params)
        if not media or "*" in media or quality <= 0:
            continue
        if best is None or (-quality, position) < best[:2]:
            best = (-quality, position, media)
    return best is not None and best[2] in HTML_TYPES


def way_back(path: str) -> tuple[str, str]:
    """The home of the part of the site the address belongs to; the playground when the error
    is on that home itself, so the link never leads back to the page that failed."""
    if path.startswith("/admin/") and path.rstrip("/") != "/admin":
        return "/admin", "Back to the operator page"
    if path.startswith(("/dashboard/", "/signin", "/signout")):
        return "/dashboard", "Back to your dashboard"
    return "/", "Back to the playground"


def _message(request: Request, status_code: int, message: str) -> str:
    if status_code == 404:
        return NOT_FOUND
    if status_code == 405 and request.method in ("GET", "HEAD"):
        return FORM_ONLY
    return message


def error_page(request: Request, status_code: int, message: str) -> Response | None:
    """The page for a browser, or None to keep the envelope (API paths, programs)."""
    path = request.url.path
    if path.startswith(API_PREFIXES) or not prefers_html(request.headers.get("accept")):
        return None
    back_href, back_label = way_back(path)
    return page(
        "error.html",
        status_code,
        title=TITLES.get(status_code, f"Error {status_code}"),
        message=_message(request, status_code, message),
        hint=HINTS.get(status_code),
        back_href=back_href,
        back_label=back_label,
        code=status_code,
        request_id=getattr(request.state, "request_id", None),
        signed_in=None,
    )

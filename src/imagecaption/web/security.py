"""Browser-facing defences: response headers, cross-site request checks, sign-in throttling.

CSRF tokens are HMACs of something the browser holds in an HttpOnly cookie (the session token,
or a sign-in nonce), so the server stores nothing extra and a page left open keeps working
across restarts, while another site, which can neither read the cookie nor the page, cannot make
one. The Origin check is a second, independent fence: SameSite=Strict cookies are the third.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from imagecaption.errors import ServiceError

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# On every page and asset: pages hold per-user data (no caching), nothing may frame them, and
# the browser must never second-guess a content type.
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class CrossSiteRefused(ServiceError):
    """A state-changing request that did not provably come from our own pages (403)."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "Cross-site request refused: reload the page and try again from this site."
        )


class CsrfTokens:
    """Tokens bound to a cookie value, so each browser's token is useless in any other."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token(self, binding: str) -> str:
        return hmac.new(self._secret, binding.encode(), hashlib.sha256).hexdigest()

    def verify(self, request: Request, binding: str | None, token: str | None) -> None:
        """Raise CrossSiteRefused unless the request is same-origin and carries the right token."""
        check_origin(request)
        if not binding or not token or not hmac.compare_digest(self.token(binding), token):
            raise CrossSiteRefused


def check_origin(request: Request) -> None:
    """Browsers name the page's origin on every POST; it must be this very host.

    Only the host is compared, not the scheme, so a TLS-terminating proxy that does not say
    which scheme it served does not lock users out; another site can never pose as this host.
    A request without Origin (not a browser) still needs its CSRF token.
    """
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise CrossSiteRefused
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CrossSiteRefused


@dataclass(frozen=True)
class Throttle:
    allowed: bool
    retry_after: int


class SignInLimiter:
    """Failed sign-ins per client address in a moving minute; only failures use up the window.

    Once the window is full every attempt is refused, right ones too, or guessing would go on.
    """

    def __init__(self, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str) -> Throttle:
        if self._limiter.test(self._item, client):
            return Throttle(True, 0)
        reset_at = self._limiter.get_window_stats(self._item, client).reset_time
        return Throttle(False, max(math.ceil(reset_at - time.time()), 1))

    def failed(self, client: str) -> None:
        self._limiter.hit(self._item, client)

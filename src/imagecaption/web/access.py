"""Signing in and out: an API key or the admin token is exchanged, once, for a session cookie.

Key holders and the operator go through the same code with a different ``Door``: its own
cookie, cookie path, lifetime and credential check. The credential is compared and dropped;
only a random session token reaches the browser, in an HttpOnly, SameSite=Strict cookie.

Over HTTPS every cookie is Secure and named with the ``__Host-`` prefix, which browsers accept
only from a secure page, with Path=/ and no Domain: a page on another port or subdomain of the
same host (cookies do not tell ports apart) can then neither plant nor overwrite it, so no one
can fix a victim's session or sign-in nonce in advance. Over plain HTTP (a laptop, loopback)
the prefix cannot be used and the names are the plain ones.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.accounts.store import AccountStore, KeyRecord
from imagecaption.api.clients import client_address, served_over_https
from imagecaption.errors import NotFound, Unauthorized
from imagecaption.web.render import page
from imagecaption.web.security import CrossSiteRefused
from imagecaption.web.sessions import Kind, Session
from imagecaption.web.state import WebState

log = logging.getLogger("imagecaption.web")

SIGN_IN_NONCE = "ic_signin"
SECURE_PREFIX = "__Host-"


def cookie_name(request: Request, name: str) -> str:
    """The name a cookie has on this request's scheme: ``__Host-`` prefixed over HTTPS."""
    return SECURE_PREFIX + name if served_over_https(request) else name


def cookie_of(request: Request, name: str) -> str | None:
    return request.cookies.get(cookie_name(request, name))


@dataclass(frozen=True)
class Door:
    """One way in. The operator's cookie lives shorter, so a forgotten operator session closes
    itself sooner, and over plain HTTP it is scoped to /admin (over HTTPS the ``__Host-``
    prefix requires Path=/; the cookie is HttpOnly and SameSite=Strict either way). Each door
    counts failed sign-ins on its own, so guessing keys does not lock the operator out."""

    kind: Kind
    cookie: str
    cookie_path: str
    ttl_seconds: int
    home: str
    form_action: str
    title: str
    field_label: str
    hint: str


KEY_DOOR = Door(
    kind="key",
    cookie="ic_session",
    cookie_path="/",
    ttl_seconds=8 * 3600,
    home="/dashboard",
    form_action="/signin",
    title="Sign in with your API key",
    field_label="API key",
    hint="Your key is checked once and not kept: this browser gets a session instead. "
    "Sessions last 8 hours or until you sign out.",
)
ADMIN_DOOR = Door(
    kind="admin",
    cookie="ic_admin",
    cookie_path="/admin",
    ttl_seconds=2 * 3600,
    home="/admin",
    form_action="/admin/signin",
    title="Operator sign-in",
    field_label="Admin token",
    hint="The token set by IMAGECAPTION_ADMIN_TOKEN. Sessions last 2 hours.",
)


def current_session(request: Request, web: WebState, door: Door) -> Session | None:
    return web.sessions.get(cookie_of(request, door.cookie), door.kind)


def key_of(session: Session, web: WebState, store: AccountStore) -> KeyRecord | None:
    """The session's key; a session whose key is gone or revoked ends here and now."""
    try:
        record = store.get_key(session.subject)
    except NotFound:
        record = None
    if record is None or record.revoked:
        web.sessions.end(session.token)
        return None
    return record


def signed_in_key(
    request: Request, web: WebState, store: AccountStore
) -> tuple[Session, KeyRecord] | None:
    """The key holder's session and key, both still valid, or None: show the signed-out view."""
    session = current_session(request, web, KEY_DOOR)
    record = key_of(session, web, store) if session else None
    return (session, record) if session and record else None


def session_csrf(web: WebState, session: Session) -> str:
    return web.csrf.token("session:" + session.token)


def verify_session_csrf(
    request: Request, web: WebState, session: Session, token: str | None
) -> None:
    web.csrf.verify(request, "session:" + session.token, token)


def _set_cookie(
    response: Response, request: Request, name: str, value: str, path: str, max_age: int | None
) -> None:
    secure = served_over_https(request)
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        path="/" if secure else path,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def _clear_cookie(response: Response, request: Request, name: str, path: str) -> None:
    secure = served_over_https(request)
    response.delete_cookie(
        cookie_name(request, name),
        path="/" if secure else path,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def sign_in_form(
    request: Request,
    web: WebState,
    door: Door,
    *,
    status_code: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The form, with a CSRF token bound to a nonce cookie, since there is no session yet."""
    nonce = cookie_of(request, SIGN_IN_NONCE) or secrets.token_urlsafe(24)
    response = page(
        "signin.html",
        status_code,
        headers,
        door=door,
        csrf_token=web.csrf.token("signin:" + nonce),
        error=error,
        signed_in=False,
    )
    if nonce != cookie_of(request, SIGN_IN_NONCE):
        _set_cookie(response, request, SIGN_IN_NONCE, nonce, "/", None)
    return response


def sign_in(
    request: Request,
    web: WebState,
    door: Door,
    *,
    credential: str,
    csrf_token: str,
    check: Callable[[str], str],
) -> Response:
    """Exchange a credential for a session; ``check`` returns what the session is for (the key
    id, or the admin token's fingerprint) or raises Unauthorized.

    Failures count against the client's address at this door and are logged without the
    credential.
    """
    client = client_address(request)
    throttled_as = f"{door.kind}:{client}"
    throttle = web.sign_in.check(throttled_as)
    if not throttle.allowed:
        return sign_in_form(
            request,
            web,
            door,
            status_code=429,
            error=f"Too many failed sign-ins from your address. Try again in "
            f"{throttle.retry_after} s.",
            headers={"Retry-After": str(throttle.retry_after)},
        )
    try:
        web.csrf.verify(request, "signin:" + (cookie_of(request, SIGN_IN_NONCE) or ""), csrf_token)
    except CrossSiteRefused as refused:
        return sign_in_form(request, web, door, status_code=403, error=refused.message)
    try:
        subject = check(credential.strip())
    except Unauthorized as refused:
        web.sign_in.failed(throttled_as)
        log.warning("failed web sign-in", extra={"client": client, "door": door.kind})
        return sign_in_form(request, web, door, status_code=401, error=refused.message)
    web.sessions.end(cookie_of(request, door.cookie))  # a fresh session, never a reused one
    token = web.sessions.create(door.kind, subject, door.ttl_seconds)
    response = RedirectResponse(door.home, status_code=303)
    _set_cookie(response, request, door.cookie, token, door.cookie_path, door.ttl_seconds)
    return response


def sign_out(request: Request, web: WebState, door: Door, csrf_token: str) -> Response:
    """End the session on the server, not just in this browser, then forget the cookie."""
    session = current_session(request, web, door)
    if session is not None:
        verify_session_csrf(request, web, session, csrf_token)
        web.sessions.end(session.token)
    response = RedirectResponse(door.home, status_code=303)  # which now asks to sign in
    _clear_cookie(response, request, door.cookie, door.cookie_path)
    return response


def nav_state(request: Request, web: WebState, store: AccountStore) -> dict[str, Any]:
    """What the shared navigation needs on a page anyone may open: signed in or not, and the
    token its sign-out form carries."""
    found = signed_in_key(request, web, store)
    return {
        "signed_in": found is not None,
        "csrf_token": session_csrf(web, found[0]) if found else "",
    }

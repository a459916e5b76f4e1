"""Who is calling: the one place that decides a request's client address and scheme.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the connection comes from
a proxy the operator listed in ``trusted_proxies``; from anyone else they are ignored, so a
client cannot pick its own address to escape the sign-in limits or to appear as another in the
logs. uvicorn's proxy-headers middleware does the parsing (networks, IPv6, the right-most
untrusted hop); it is added by the app with the operator's list, never with uvicorn's default,
which trusts every loopback peer, and not at all when the list is empty (it would change nothing
and cost every call a layer).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trust_proxies(app: FastAPI, trusted_proxies: list[str]) -> None:
    """Put the forwarded-header check outermost; an empty list trusts no one. Call it after
    every other middleware is added, so that all of them see the client it decided."""
    if trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))


def client_address(connection: HTTPConnection) -> str:
    """The client's address, for sign-in limits and logs (already the forwarded one when a
    trusted proxy sent the request)."""
    return connection.client.host if connection.client else "unknown"


def served_over_https(connection: HTTPConnection) -> bool:
    """Whether the browser reached the site over HTTPS, here or at a trusted proxy."""
    return connection.url.scheme == "https"

"""Pure ASGI middleware: request ids, access logs, metrics, body limits, last-resort errors.

Written against raw ASGI rather than BaseHTTPMiddleware so that request bodies stream through
untouched and the per-request cost stays small.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagecaption.api.clients import client_address
from imagecaption.api.envelope import error, render
from imagecaption.errors import RequestTimeout
from imagecaption.images import payload_too_large
from imagecaption.observability.metrics import Metrics

log = logging.getLogger("imagecaption.access")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


def request_id_from(headers: Headers) -> str:
    """Echo a client's id when it is safe to put in logs and headers, else make one."""
    supplied = headers.get("x-request-id", "")
    return supplied if _SANE_REQUEST_ID.match(supplied) else secrets.token_hex(16)


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Gives every response an X-Request-ID, logs it, measures it, hides crashes, and holds
    request bodies to their limits (``BodyLimits``): one layer, so that every call pays for
    one, with its headers read once."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, max_image_bytes: int, body_timeout: float = 30.0
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limits = BodyLimits(max_image_bytes, body_timeout)
        # Each route and status's counter and histogram, found once: looking them up by their
        # labels cost more than counting. Bounded: routes are the app's, statuses are few.
        self._by_route_and_status: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def _series(self, route: str, status: int) -> tuple[Counter, Histogram]:
        series = self._by_route_and_status.get((route, status))
        if series is None:
            labels = (route, str(status))
            series = (self.metrics.requests.labels(*labels), self.metrics.latency.labels(*labels))
            self._by_route_and_status[(route, status)] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = request_id_from(headers)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        limited_receive, limited_send = self.body_limits.guard(
            scope, headers, receive, send_with_id
        )
        try:
            await self.app(scope, limited_receive, limited_send)
        except Exception:
            log.exception("unhandled error")
            if not response_started:
                response = render(error("Internal server error."), headers.get("accept"), 500)
                await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            counted, timed = self._series(route, status)
            counted.inc()
            timed.observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "client": client_address(HTTPConnection(scope)),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            structlog.contextvars.unbind_contextvars("request_id")


class BodyLimits:
    """Refuses oversized and overdue bodies while they arrive, never buffering more than the limit.

    A declared Content-Length over the limit is refused before reading anything; a body without
    one (or that lies) is counted chunk by chunk and cut off as soon as it passes the limit. The
    limit per request is the image limit plus room for the encoding the content type implies, so
    that the exact byte check on the image itself happens later and still yields 413. Text bodies
    (JSON, form fields, multipart text fields) may carry the image as base64, which grows it by
    4/3, and then wrapped at 76 columns with escaped line breaks, escaped slashes or
    percent-encoding, which together stay under 1.6: they get twice the image limit.

    The whole body must also arrive within ``body_timeout`` seconds of the first read, else the
    call ends with 408 (RequestTimeout): a client that sends less than its Content-Length and
    stalls would otherwise hold the call, and a connection, for as long as it liked.
    """

    def __init__(self, max_image_bytes: int, body_timeout: float = 30.0) -> None:
        self.max_image_bytes = max_image_bytes
        self.body_timeout = body_timeout

    def limit_for(self, content_type: str) -> int:
        slack = 64 * 1024
        if content_type.startswith(_TEXT_BODIES):
            return self.max_image_bytes * 2 + slack
        return self.max_image_bytes + slack

    def guard(
        self, scope: Scope, headers: Headers, receive: Receive, send: Send
    ) -> tuple[Receive, Send]:
        """The ``receive`` and ``send`` that the app is to be given for this request."""
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return receive, send
        limit = self.limit_for(headers.get("content-type", "").lower())
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            # Refused before a byte is read, yet by the route, after it has authenticated the
            # caller, so that the 413 counts in the key's usage like any other failed call.
            return _refusing_receive(payload_too_large(self.max_image_bytes)), _closing(send)
        return self._counting(receive, limit), send

    def _counting(self, receive: Receive, limit: int) -> Receive:
        received = 0
        deadline: float | None = None
        complete = False

        async def counting_receive() -> Message:
            nonlocal received, deadline, complete
            if complete:  # the whole body is in: only a disconnect can come, with no deadline
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.body_timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body did not arrive within {self.body_timeout:g} seconds."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise payload_too_large(self.max_image_bytes)
                complete = not message.get("more_body", False)
            return message

        return counting_receive


def _refusing_receive(refusal: Exception) -> Receive:
    async def receive() -> Message:
        raise refusal

    return receive


def _closing(send: Send) -> Send:
    """The body was never read, so the connection cannot carry another request."""

    async def send_closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["Connection"] = "close"
        await send(message)

    return send_closing


def client_request_id(request: Request) -> str:
    return str(request.state.request_id)

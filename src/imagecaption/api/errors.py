"""Every exception becomes the seed's envelope with the right status; nothing else leaks.

Framework validation errors map to 400, unknown routes to 404 and wrong methods to 405, all in
the envelope. Anything unexpected is logged with its stack trace and answered with a bare 500.
An app may set ``app.state.error_page`` (the web pages do) to answer people's browsers with a page
instead; it returns None for everything else, which keeps the envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from imagecaption.accounts.database import DatabaseUnavailable
from imagecaption.api.envelope import error, render
from imagecaption.errors import ServiceError

log = logging.getLogger(__name__)

ErrorPage = Callable[[Request, int, str], Response | None]

_HTTP_MESSAGES = {
    404: "Not found: no such endpoint.",
    405: "Method not allowed.",
}


def error_response(
    request: Request, status_code: int, message: str, headers: dict[str, str]
) -> Response:
    error_page: ErrorPage | None = getattr(request.app.state, "error_page", None)
    response = error_page(request, status_code, message) if error_page else None
    if response is None:
        response = render(error(message), request.headers.get("accept"), status_code)
    # Headers computed before the failure (rate limit, credits) still belong on the answer.
    response.headers.update(getattr(request.state, "response_headers", {}))
    response.headers.update(headers)
    return response


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, DatabaseUnavailable):
        log.warning("the account database is unavailable: %s", exc.cause)
    return error_response(request, exc.status_code, exc.message, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for item in exc.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return error_response(request, 400, "Invalid request: " + "; ".join(problems), {})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, ServiceError):  # FastAPI's wrapper around a failed form read
        return await _service_error(request, exc.__cause__)
    message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    return error_response(request, exc.status_code, message, dict(exc.headers or {}))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up before its body arrived: nobody will read an answer, and no error of
    ours happened, so the call is logged and counted as 499 (nginx's "client closed request")."""
    log.info("the client went away before sending its whole request")
    return Response(status_code=499)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(request, 500, "Internal server error.", {})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)

"""The caption route answered from the outermost layer, ahead of the framework's own.

Every call used to cross about a dozen ASGI layers before reaching the caption route: Starlette's
error and exception middleware, FastAPI's telemetry, body-limit and exit-stack middleware, the
router, the route's own exception wrapper, and the app's middleware (CORS, request context). On
a call answered from the cache those layers cost about as much as the route's own work. None of
the framework's layers does anything for this route: its errors are the app's to answer, its
body limits are ours (``BodyLimits``), it has no dependencies to close, and telemetry is off.

So the outermost layer (``HotLane``) sends a call to one of the hot routes straight to:

    the app's middleware, in the order added (CORS, request context, ...)
      -> the route's endpoint, whose exceptions go to the app's exception handlers

which keeps what a client sees: the envelope on every error (the same handlers), the request id,
access log line and metrics (the same middleware), CORS headers on every answer. Everything else,
preflight ``OPTIONS`` and a wrong method on the same path included, goes the normal way.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send


def answer_first(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Have ``app`` answer ``routes`` from its outermost layer, through the middleware and
    exception handlers it has when it starts (its stack is built at its first request)."""
    build_framework_stack = app.build_middleware_stack

    def build_stack() -> ASGIApp:
        return HotLane(
            build_framework_stack(),
            routes=routes,
            router=app.router,
            middleware=app.user_middleware,
            exception_handlers=app.exception_handlers,
        )

    app.build_middleware_stack = build_stack  # type: ignore[method-assign]


class HotLane:
    """Answers ``routes`` through ``middleware`` and the ``exception_handlers`` alone; passes
    every other request to ``app``, the framework's full stack."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        router: Router,
        middleware: Sequence[Middleware],
        exception_handlers: Mapping[Any, Any],
    ) -> None:
        self.app = app
        self.routes = list(routes)
        self.router = router
        hot: ASGIApp = HandledEndpoint(exception_handlers)
        for cls, args, kwargs in reversed(middleware):
            hot = cls(hot, *args, **kwargs)
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    scope.setdefault("router", self.router)  # for url_for, as the router does
                    await self.hot(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class HandledEndpoint:
    """Runs the matched route's endpoint (``scope["endpoint"]``, an async function of the
    request that returns a response) and answers its exceptions with the app's handlers, as
    Starlette's route would, without the wrappers around each step."""

    def __init__(self, exception_handlers: Mapping[Any, Any]) -> None:
        for handler in exception_handlers.values():
            if not inspect.iscoroutinefunction(handler):  # Starlette would run it in a thread
                raise TypeError(f"exception handler {handler!r} is not an async function")
        self.by_class = {k: v for k, v in exception_handlers.items() if not isinstance(k, int)}
        self.by_status = {k: v for k, v in exception_handlers.items() if isinstance(k, int)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await scope["endpoint"](request)
        except Exception as exc:
            handler = self.handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # a reused exception would keep every request's frames
        await response(scope, receive, send)

    def handler_for(self, exc: Exception) -> Any:
        """The handler Starlette would pick: by status for an HTTPException, else by the
        nearest class in the exception's MRO (``Exception`` last)."""
        if isinstance(exc, HTTPException) and exc.status_code in self.by_status:
            return self.by_status[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.by_class:
                return self.by_class[cls]
        return None

"""``imagecaption`` that stops each caption answer just before it is sent, to crash right there.

The answer of a successful caption call is held at the last step before its first byte leaves
the server (the ``http.response.start`` message, between the app and the HTTP server), after the
server has done everything else for the call, and the held call is announced on stdout; a test
then kills the process with SIGKILL. The app itself and everything else is the real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HELD = "caption answer held before sending"


def holding_answers(app: ASGIApp) -> ASGIApp:
    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/imagecaption"):
            await app(scope, receive, send)
            return

        async def send_never(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                print(HELD, flush=True)
                await asyncio.Event().wait()  # until the process is killed
            await send(message)

        await app(scope, receive, send_never)

    return held


def _wrapping(create_app: Callable[..., Any]) -> Callable[..., ASGIApp]:
    def create_held_app(*args: Any, **kwargs: Any) -> ASGIApp:
        return holding_answers(create_app(*args, **kwargs))

    return create_held_app


if __name__ == "__main__":
    import imagecaption.api.app

    imagecaption.api.app.create_app = _wrapping(imagecaption.api.app.create_app)  # type: ignore[assignment]
    from imagecaption.cli import main

    main()

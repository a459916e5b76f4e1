"""A route answered from the outermost layer (``lane``) answers exactly as the normal way would.

Two copies of one app, with the app's own error handlers and middleware, differ only in whether
a route is answered first: every outcome (an answer, our errors, the framework's, a crash, a body
too large), with and without a browser's Origin, must come back the same, headers included.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagecaption.api.app import install_middleware
from imagecaption.api.envelope import ok, render
from imagecaption.api.errors import install_error_handlers
from imagecaption.api.lane import HandledEndpoint, answer_first
from imagecaption.errors import BadInput, Overloaded
from imagecaption.observability.metrics import Metrics
from imagecaption.settings import Settings

PATH = "/v1/thing"
OUTCOMES: dict[str, Callable[[], Exception | None]] = {
    "ok": lambda: None,
    "bad input": lambda: BadInput("The image could not be decoded."),
    "overloaded": lambda: Overloaded("Busy.", retry_after=7),
    "framework error": lambda: HTTPException(405, headers={"Allow": "POST"}),
    "crash": lambda: RuntimeError("a bug"),
}


async def endpoint(request: Request) -> Response:
    await request.body()
    failure = OUTCOMES[request.query_params["outcome"]]()
    if failure is not None:
        raise failure
    return render(ok({"caption": "a cat"}), request.headers.get("accept"))


def make_app(first: bool) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.router.routes.append(Route(PATH, endpoint, methods=["POST"]))
    install_middleware(app, Settings(max_upload_bytes=1000), Metrics())
    if first:
        answer_first(app, [Route(PATH, endpoint, methods=["POST"])])
    return app


async def answer(app: FastAPI, headers: dict[str, str], **request: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(PATH, headers=headers, **request)  # type: ignore[arg-type]


def comparable(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
    return response.status_code, response.content, headers


@pytest.mark.parametrize("outcome", list(OUTCOMES))
@pytest.mark.parametrize("origin", [None, "https://example.org"])
@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
async def test_the_lane_answers_as_the_normal_way(
    outcome: str, origin: str | None, accept: str
) -> None:
    headers = {"accept": accept} | ({"origin": origin} if origin else {})
    request = {"params": {"outcome": outcome}, "content": b"x" * 100}
    normal = await answer(make_app(first=False), headers, **request)
    first = await answer(make_app(first=True), headers, **request)
    assert comparable(first) == comparable(normal)
    assert first.headers["x-request-id"]
    assert normal.status_code != 500 or outcome == "crash"


async def test_a_body_over_the_limit_is_refused_the_same_way() -> None:
    request = {"params": {"outcome": "ok"}, "content": b"x" * 200_000}
    normal = await answer(make_app(first=False), {}, **request)
    first = await answer(make_app(first=True), {}, **request)
    assert normal.status_code == 413
    assert comparable(first) == comparable(normal)


async def test_other_methods_and_paths_go_the_normal_way() -> None:
    transport = httpx.ASGITransport(app=make_app(first=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        wrong_method = await client.get(PATH)
        preflight = await client.options(
            PATH, headers={"origin": "https://a.example", "access-control-request-method": "POST"}
        )
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == "error"
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_a_synchronous_exception_handler_is_refused() -> None:
    def handler(request: Request, exc: Exception) -> Response:
        return Response()

    with pytest.raises(TypeError):
        HandledEndpoint({ValueError: handler})

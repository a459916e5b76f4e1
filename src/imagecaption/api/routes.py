"""POST /v1/imagecaption: thin, it only orders the steps; each step lives in its own module.

Order matters for fairness and cost: authenticate and rate-limit before reading the body, take a
place in the engine's queue before reserving credits (a call refused with 503 holds none),
reserve them before the model runs, and settle the reservation whatever happens: released when
the call fails or the client hung up, committed (charged) only once the answer has been handed
to the connection, so that a crash in between leaves a reservation that is refunded, never a
charge for an answer that was not sent.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import Scope

from imagecaption.accounts.database import DatabaseUnavailable
from imagecaption.accounts.plans import credit_headers, insufficient_credits
from imagecaption.accounts.store import KeyRecord, Reservation
from imagecaption.api.auth import API_KEY_HEADER, authenticated, record_refusal
from imagecaption.api.envelope import error, ok, render
from imagecaption.api.inputs import read_image_request
from imagecaption.api.languages import negotiate
from imagecaption.api.objects import objects_in_pixels, tags_as_listed, text_in_pixels
from imagecaption.api.schemas import CaptionJsonBody, Envelope, option_parameters, option_schemas
from imagecaption.api.services import Services, services
from imagecaption.engine import Handed
from imagecaption.errors import InsufficientCredits, RateLimited, RequestTimeout, ServiceError
from imagecaption.images import content_hash

log = logging.getLogger(__name__)
router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {
        "model": Envelope,
        "description": text,
        "content": {"application/json": {"example": error(example)}},
    }
    for code, (text, example) in {
        400: (
            "Bad input: missing, corrupt, unsupported or oversized (in pixels) image, bad URL.",
            "The image could not be decoded: it is corrupt or truncated.",
        ),
        401: ("Missing, unknown or revoked API key.", "API key is required"),
        403: (
            "Not enough credits for this call.",
            "Insufficient credits: this call costs 10 credits and the key has 0 left.",
        ),
        408: (
            "The request body did not arrive in time (body_read_timeout_seconds).",
            "The request body did not arrive within 30 seconds.",
        ),
        413: (
            "The image is larger than the byte limit.",
            "The image is larger than the 5 MB limit.",
        ),
        429: (
            "Per-key rate limit exceeded; see Retry-After.",
            "Rate limit exceeded: the free plan allows 30 requests per minute. Retry in 12 s.",
        ),
        503: (
            "Overloaded or model not ready; see Retry-After.",
            "The server is busy: too many images are waiting. Retry shortly.",
        ),
    }.items()
}


_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The caption.",
        "headers": {
            "Content-Language": {
                "description": "The caption's language (see the lang option).",
                "schema": {"type": "string", "example": "en"},
            }
        },
    }
}


@router.post(
    "/v1/imagecaption",
    response_model=Envelope,
    responses=_ANSWER | _ERRORS,
    summary="Caption an image",
    openapi_extra={
        "security": [{API_KEY_HEADER.scheme_name: []}],
        "parameters": option_parameters(),
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            **option_schemas(),
                        },
                        "required": ["image"],
                    }
                },
                "application/json": {"schema": CaptionJsonBody.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": {"type": "string", "format": "uri"},
                            **option_schemas(),
                        },
                    }
                },
            },
            "required": True,
        },
    },
)
@router.post("/v1/imagecaption/", include_in_schema=False)  # answered, not redirected with 307
async def caption_image(request: Request) -> Response:
    """Describe an image in one sentence; the answer's shape is the hosted service's.

    The call counts as in progress from here to its answer, so that job images wait for it."""
    svc = services(request)
    with svc.engine.call_in_progress():
        return await caption_flow(request, await authenticated(request, svc), svc)


class _HotRoute(Route):
    """A plain Starlette route that names itself in the scope, as FastAPI's routes do, so that
    metrics and logs label its calls with its path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.FULL:
            child_scope["route"] = self
        return match, child_scope


def hot_routes() -> list[Route]:
    """``POST /v1/imagecaption`` (with and without the slash) as plain Starlette routes, which
    the app answers from its outermost layer, ahead of the framework's (``lane.HotLane``).

    The endpoint takes only the request and answers a ``Response``, so FastAPI's machinery
    around it (three exit stacks, form limits, dependency solving with nothing to solve) was
    pure cost on the path every call takes; the lane keeps what it needs, the app's middleware
    and exception handlers. The FastAPI routes above stay, for the OpenAPI document, which is
    generated from them.
    """
    return [
        _HotRoute(path, caption_image, methods=["POST"], include_in_schema=False)
        for path in ("/v1/imagecaption", "/v1/imagecaption/")
    ]


WRONG_METHODS = ["GET", "PUT", "PATCH", "DELETE"]


@router.api_route("/v1/imagecaption", methods=WRONG_METHODS, include_in_schema=False)
@router.api_route("/v1/imagecaption/", methods=WRONG_METHODS, include_in_schema=False)
async def wrong_method(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> Response:
    """405 whatever the key, as for any wrong method; recorded in the key's usage when the call
    names a valid one, so that a client stuck on GET sees why its calls go nowhere."""
    if x_api_key and x_api_key.strip():
        try:
            record = await run_in_threadpool(svc.store.authenticate, x_api_key.strip())
        except ServiceError:
            record = None
        if record is not None:
            await run_in_threadpool(record_refusal, request, svc, record.id, 405)
    raise HTTPException(405, headers={"Allow": "POST"})


async def caption_flow(request: Request, account: KeyRecord, svc: Services) -> Response:
    """The paid part of a call, for a key already authenticated and admitted by its rate limit.

    Every way in (this endpoint, the web playground) goes through here, so a call is charged,
    recorded and rendered the same way whichever door it came through.
    """
    started = time.perf_counter()
    request_id: str = request.state.request_id
    cost = svc.settings.plans[account.plan].cost_per_call
    if account.balance < cost:  # known from the key already: refused before reading a byte
        raise insufficient_credits(account, cost)
    reservation: Reservation | None = None

    async def pay() -> None:
        nonlocal reservation
        reservation = await svc.ledger.reserve(account.id, cost)
        if reservation.key is not None:
            svc.recent_keys.refresh(reservation.key)

    try:
        image_request = await read_image_request(
            request, svc.fetcher, svc.settings.max_upload_bytes
        )
        read_done = time.perf_counter()
        params = image_request.params
        digest = content_hash(image_request.data)
        lang = negotiate(
            params.lang,
            request.headers.get("accept-language"),
            svc.engine.info.languages,
        )
        options = params.to_options(svc.settings.read_text, lang)
        # An image whose caption is cached was decoded before, from the same bytes: decoding it
        # again would only cost time, unless the details report sizes in its pixels. The
        # picture is handed to the engine, and neither it nor the upload is kept here while the
        # call waits its turn (see ``Handed``).
        handed: Handed | None = None
        size_as_sent: tuple[int, int] | None = None
        if params.details or not svc.engine.has_cached(digest, options):
            picture = await svc.decoder.decode(image_request.data)
            size_as_sent, handed = picture.size_as_sent, Handed(picture.image)
            del picture
        del image_request
        decoded = time.perf_counter()
        caption, cached = await svc.engine.caption(handed, digest, options, pay)
    except BaseException as exc:
        if reservation is not None:
            await svc.ledger.release(reservation)
        # Refused before the call began, or by a database that could not record it anyway.
        if not isinstance(exc, RateLimited | InsufficientCredits | DatabaseUnavailable):
            await svc.ledger.record_call(
                account.id,
                status=_status_of(exc),
                latency_ms=(time.perf_counter() - started) * 1000,
                request_id=request_id,
            )
        raise
    assert reservation is not None  # the engine answers only calls that paid
    latency_ms = (time.perf_counter() - started) * 1000
    if await _client_gone(request):  # nobody to hand the answer to: it is not charged
        await svc.ledger.release(reservation)
        await svc.ledger.record_call(
            account.id,
            status=499,
            latency_ms=latency_ms,
            request_id=request_id,
        )
        return Response(status_code=499)
    svc.latency.add(latency_ms)
    data: dict[str, Any] = {"caption": caption.text}
    if params.num_captions > 1:
        data["captions"] = [
            {"caption": c.text, "score": round(c.score, 4)} for c in caption.candidates
        ]
    if params.details:
        assert size_as_sent is not None  # decoded whenever details are asked for
        data["model"] = svc.engine.info.name
        data["cached"] = cached
        data["timing_ms"] = {
            "read": round((read_done - started) * 1000, 2),
            "decode": round((decoded - read_done) * 1000, 2),
            "caption": round((time.perf_counter() - decoded) * 1000, 2),
            "total": round(latency_ms, 2),
        }
        if caption.objects is not None:
            data["objects"] = objects_in_pixels(caption.objects, *size_as_sent)
        if caption.text_lines is not None:
            data["text"] = text_in_pixels(caption.text_lines, *size_as_sent)
        if caption.tags is not None:
            data["tags"] = tags_as_listed(caption.tags)
    response = render(
        ok(data),
        request.headers.get("accept"),
        headers=request.state.response_headers | credit_headers(reservation.key or account),
    )
    response.headers["Content-Language"] = options.lang
    # Starlette runs the background task once the body has been handed to the server.
    svc.engine.hold_place()  # until the charge is committed
    response.background = BackgroundTask(
        _charge, svc, reservation, latency_ms=latency_ms, request_id=request_id
    )
    return response


async def _charge(
    svc: Services, reservation: Reservation, *, latency_ms: float, request_id: str
) -> None:
    """Submit the charge of an answer already sent to the ledger, which commits it with others
    waiting; a failure there makes the answer free.

    The reservation stays until that commit, so a crash before it (or a database that fails it)
    leaves the reservation to expire and be refunded: the customer never pays for an answer the
    server did not hand over, and in that narrow window an answer handed over may go unpaid.
    The answer's place in the queue is held until the commit (``hold_place``), not awaited here.
    """
    charged = svc.ledger.charge(
        reservation, status=200, latency_ms=latency_ms, request_id=request_id
    )
    charged.add_done_callback(lambda done: _charged(svc, reservation, done))


def _charged(svc: Services, reservation: Reservation, done: asyncio.Future[KeyRecord]) -> None:
    svc.engine.free_place()
    failure = None if done.cancelled() else done.exception()
    if failure is None:
        svc.metrics.credits_charged.inc(reservation.credits)
        return
    log.warning(
        "an answer was sent but its charge failed, so it is free: %s",
        failure.message if isinstance(failure, ServiceError) else repr(failure),
        extra={"key_id": reservation.key_id, "credits": reservation.credits},
    )


async def _client_gone(request: Request) -> bool:
    """Whether the client hung up while its image was captioned.

    Once the body has been read, the server says so at once, without waiting; past the body's
    deadline nothing more can be read, and the client is taken to be there. The server's
    ``receive`` is stepped once by hand and dropped if it would wait: what Starlette's
    ``is_disconnected`` does with a cancelled cancel scope, whose setting up and cancelling
    cost a cached call more than the rest of its answer.
    """
    receiving = request.receive()
    if not inspect.iscoroutine(receiving):  # an awaitable of another kind: the general way
        return await _disconnected(request)
    try:
        receiving.send(None)
    except StopIteration as done:
        return bool(done.value.get("type") == "http.disconnect")
    except RequestTimeout:
        return False
    receiving.close()  # it would wait: the client is still there
    return False


async def _disconnected(request: Request) -> bool:
    try:
        return await request.is_disconnected()
    except RequestTimeout:
        return False


def _status_of(exc: BaseException) -> int:
    """The status a failed call is recorded with in usage.

    A client that went away, or stalled until its body timed out (answered 408), is recorded
    as 499, nginx's "client closed request": the call failed on the client's side, not ours.
    """
    if isinstance(exc, RequestTimeout | ClientDisconnect | asyncio.CancelledError):
        return 499
    if isinstance(exc, ServiceError):
        return exc.status_code
    return 500

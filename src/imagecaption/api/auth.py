"""API key -> account, plus the per-key rate limit, in one function.

Calls refused before the paid part (429 here, 401 for a revoked key, 405 for a wrong method) are
recorded in the key's usage when the key is known, like every failed call, so that the usage
report, the dashboard and the operator page show them. Calls without a key, or with one that
does not exist, are counted by reason in the metrics (the operator page shows them): they have
no key to record them under, and writing a row for each would let anyone fill the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from imagecaption.accounts.keys import parse_key
from imagecaption.accounts.plans import credit_headers
from imagecaption.accounts.ratelimit import RateLimitStatus
from imagecaption.accounts.store import KeyRecord, KeyRevoked
from imagecaption.api.services import Services, services
from imagecaption.errors import RateLimited, ServiceError, Unauthorized

log = logging.getLogger(__name__)

# A security scheme rather than a plain header parameter, so that /openapi.json declares it and
# the interactive docs offer an Authorize button that sends the key with every call.
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="ApiKey", description="Your API key."
)


def rate_limit_headers(status: RateLimitStatus) -> dict[str, str]:
    """Both spellings: the seed's X-RateLimit-* and the vendor docs' x-rate-limit-*.

    Unthrottled plans report ``unlimited`` rather than an invented number.
    """
    limit = "unlimited" if status.limit is None else str(status.limit)
    remaining = "unlimited" if status.remaining is None else str(status.remaining)
    reset = str(status.reset_at)
    return {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset": reset,
        "x-rate-limit-limit": limit,
        "x-rate-limit-remaining": remaining,
        "x-rate-limit-reset": reset,
    }


async def authenticated(request: Request, svc: Services) -> KeyRecord:
    """The caller's key (the ``X-API-Key`` header), admitted by its rate limit.

    A plain function rather than FastAPI dependencies, on the path every call takes: resolving
    the key and the services through injection cost more than this function's own work, and a
    synchronous dependency meant a trip to a worker thread. The route declares the header as
    ``API_KEY_HEADER`` in the OpenAPI document instead (``openapi.declare_api_key``).

    A key seen in the last ``key_cache_seconds`` is taken from memory (``RecentKeys``), and an
    in-process rate limit is counted right here: a busy key's call then costs no trip to a
    worker thread before its body is read. Otherwise the key's row, the shared rate limit, or
    both, are one trip to a worker thread.
    """
    api_key = request.headers.get("x-api-key", "").strip()
    if not api_key:
        svc.metrics.unauthenticated.labels("missing").inc()
        raise Unauthorized("API key is required")
    record = svc.recent_keys.get(api_key)
    if record is None:
        record = await run_in_threadpool(_authenticate_and_admit, request, svc, api_key)
        svc.recent_keys.put(api_key, record)
    elif svc.limiter.shared:
        await run_in_threadpool(admit, request, svc, record)
    else:
        status = _count(request, svc, record)
        if not status.allowed:
            await _recorded(svc.ledger.record_call(record.id, **_refused(request, 429)))
            raise _rate_limited(record, status)
    return record


async def authenticated_key(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> KeyRecord:
    """``authenticated`` as a FastAPI dependency, for the routes off the hot path (jobs): the
    header parameter puts the key in their OpenAPI operations."""
    return await authenticated(request, svc)


def _authenticate_and_admit(request: Request, svc: Services, api_key: str) -> KeyRecord:
    """The key's record, once its rate limit let the call in; blocking (the database, and the
    rate limit's store), so it runs in one trip to a worker thread rather than one per step."""
    try:
        record = svc.store.authenticate(api_key)
    except KeyRevoked:  # the secret matched: the key is known, and the call is its holder's
        record_refusal(request, svc, parse_key(api_key), 401)
        raise
    except Unauthorized:
        svc.metrics.unauthenticated.labels("invalid").inc()
        raise
    admit(request, svc, record)
    return record


def record_refusal(request: Request, svc: Services, key_id: str, status: int) -> None:
    """Put a call refused before its paid part in the key's usage; blocking (a database write).

    A database that cannot take the row does not change the answer: the refusal stands."""
    try:
        svc.store.record_call(key_id, **_refused(request, status))
    except ServiceError as failure:
        _not_recorded(failure)


async def _recorded(write: Awaitable[None]) -> None:
    """``record_refusal`` for the event loop, through the ledger."""
    try:
        await write
    except ServiceError as failure:
        _not_recorded(failure)


def _refused(request: Request, status: int) -> dict[str, Any]:
    return {"status": status, "latency_ms": 0.0, "request_id": request.state.request_id}


def _not_recorded(failure: ServiceError) -> None:
    log.warning("could not record a refused call", extra={"reason": failure.message})


def admit(request: Request, svc: Services, record: KeyRecord) -> None:
    """Apply the key's per-minute limit and remember its headers for whatever answer follows;
    blocking (a shared limit's store, and a refusal is recorded in the database)."""
    status = _count(request, svc, record)
    if not status.allowed:
        record_refusal(request, svc, record.id, 429)
        raise _rate_limited(record, status)


def _count(request: Request, svc: Services, record: KeyRecord) -> RateLimitStatus:
    status = svc.limiter.hit(record.id, svc.settings.plans[record.plan].requests_per_minute)
    request.state.response_headers = rate_limit_headers(status) | credit_headers(record)
    return status


def _rate_limited(record: KeyRecord, status: RateLimitStatus) -> RateLimited:
    return RateLimited(
        f"Rate limit exceeded: the {record.plan} plan allows {status.limit} requests per "
        f"minute. Retry in {status.retry_after} s.",
        headers={"Retry-After": str(status.retry_after)},
    )

"""The webhook a job calls when it ends: signed like Stripe's, retried with backoff for a day.

The body is the job's summary as JSON; ``X-Imagecaption-Signature: t=<unix seconds>,v1=<hex>``
carries an HMAC-SHA256 of ``"<t>.<raw body>"`` keyed by the job's ``callback_secret``, so a
receiver checks both who sent it and when (a replayed old body fails its freshness check). The
callback URL passes the same address rules as image URLs, when the job is submitted and again
at every attempt (DNS may have changed since).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta

import httpx

from imagecaption.errors import BadInput
from imagecaption.images import ImageFetcher
from imagecaption.jobs.store import JobRecord, SqlJobStore
from imagecaption.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Imagecaption-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def retry_delay(settings: Settings, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
    delay = settings.job_callback_backoff_seconds * 2 ** max(attempts - 1, 0)
    return float(min(delay, settings.job_callback_max_backoff_seconds))


async def check_callback_url(fetcher: ImageFetcher, url: str) -> None:
    """400 for a callback URL that the image URL rules would refuse, said about the callback."""
    try:
        await fetcher.check_url(url)
    except BadInput as refused:
        raise BadInput("callback_url: " + refused.message.replace("image URL", "URL")) from None


async def deliver(
    store: SqlJobStore, fetcher: ImageFetcher, settings: Settings, job: JobRecord, now: datetime
) -> bool:
    """One attempt; records its outcome and when to retry (or that it was given up)."""
    assert job.callback_url is not None
    assert job.callback_secret is not None
    body = json.dumps(job.summary()).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(job.callback_secret, timestamp, body),
    }
    status: int | None = None
    try:
        status = await fetcher.post(
            job.callback_url, body, headers, settings.job_callback_timeout_seconds
        )
        reason = f"answered {status}"
    except BadInput as refused:
        reason = refused.message
    except (httpx.HTTPError, TimeoutError, OSError) as failed:
        reason = f"{type(failed).__name__}: {failed}"
    delivered = status is not None and 200 <= status < 300
    retry_at: datetime | None = None
    if not delivered:
        attempts = job.callback_attempts + 1
        retry_at = now + timedelta(seconds=retry_delay(settings, attempts))
        ended = job.finished_at or now
        if retry_at > ended + timedelta(seconds=settings.job_callback_retry_seconds):
            retry_at = None
        log.warning(
            "job webhook attempt %d failed (%s); %s",
            attempts,
            reason,
            "given up" if retry_at is None else f"retry at {retry_at.isoformat()}",
            extra={"job_id": job.id},
        )
    await asyncio.to_thread(
        lambda: store.record_callback(job.id, status=status, delivered=delivered, retry_at=retry_at)
    )
    return delivered

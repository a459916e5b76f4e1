"""Batch jobs over HTTP: submit, read (paged results), list and cancel a key's own jobs.

Every answer is in the envelope, in the format the Accept header asks for, with the key's rate
limit and credit headers; another key's job answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field, ValidationError
from starlette.concurrency import run_in_threadpool

from imagecaption.accounts.store import KeyRecord
from imagecaption.api.auth import authenticated_key
from imagecaption.api.envelope import ok, render
from imagecaption.api.schemas import CaptionParams, Envelope
from imagecaption.api.services import Services, services
from imagecaption.errors import BadInput
from imagecaption.jobs.service import JobService
from imagecaption.jobs.store import ImageResult, JobRecord
from imagecaption.jobs.webhook import check_callback_url

router = APIRouter(prefix="/v1/imagecaption/jobs", tags=["jobs"])

_REFUSALS = {
    400: "Bad input: not JSON, no images, too many, a bad option or callback_url.",
    401: "Missing, unknown or revoked API key.",
    403: "Not enough credits for the whole job.",
    404: "No such job for this key.",
    429: "Per-key rate limit exceeded; see Retry-After.",
    503: "The account database is unavailable; see Retry-After.",
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": Envelope, "description": _REFUSALS[code]}
        for code in (400, 401, 429, 503, *codes)
    }


class JobRequest(CaptionParams):
    """A job: the images, where to say that it ended, and the options of one caption."""

    images: list[Annotated[str, Field(min_length=1, pattern=r"\S")]] = Field(
        min_length=1,
        description="Up to job_max_images (10,000) images, each an http(s) URL, a "
        "data:image/...;base64, URI or bare base64.",
    )
    callback_url: str | None = Field(
        default=None,
        description="Called once with the job's summary when it ends, signed with the "
        "callback_secret the submission returns (X-Imagecaption-Signature).",
    )
    lang: str | None = Field(
        default=None, description="The captions' language, among the model's languages."
    )


def job_service(request: Request) -> JobService:
    found: JobService = request.app.state.jobs
    return found


def _answer(request: Request, data: dict[str, Any], status_code: int = 200) -> Response:
    response = render(ok(data), request.headers.get("accept"), status_code)
    response.headers.update(getattr(request.state, "response_headers", {}))
    return response


def _parse(body: bytes) -> JobRequest:
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInput("The request body is not valid JSON.") from None
    if not isinstance(fields, dict):
        raise BadInput('The JSON body must be an object such as {"images": ["<URL>", ...]}.')
    try:
        job = JobRequest.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise BadInput(f"Invalid job: {problems}") from None
    return job


@router.post(
    "",
    status_code=202,
    response_model=Envelope,
    responses=_responses(403),
    summary="Caption many images as one job",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": JobRequest.model_json_schema()}},
            "required": True,
        }
    },
)
async def submit_job(
    request: Request,
    account: Annotated[KeyRecord, Depends(authenticated_key)],
    svc: Annotated[Services, Depends(services)],
    jobs: Annotated[JobService, Depends(job_service)],
) -> Response:
    """202 with the job's id at once; the images are captioned by every replica's workers."""
    job = _parse(await request.body())
    limit = svc.settings.job_max_images
    if len(job.images) > limit:
        raise BadInput(f"A job takes at most {limit} images; this one has {len(job.images)}.")
    info = svc.engine.captioner.info
    if job.lang is not None and job.lang not in info.languages:
        raise BadInput(f"lang: {job.lang!r} is not one of {', '.join(info.languages)}.")
    svc.engine.captioner.check_options(job.to_options(svc.settings.read_text))
    if job.callback_url is not None:
        await check_callback_url(svc.fetcher, job.callback_url)
    options = job.model_dump(exclude_none=True, exclude={"images", "callback_url"})
    record = await run_in_threadpool(
        lambda: jobs.submit(
            account,
            job.images,
            options=options,
            cost=svc.settings.plans[account.plan].cost_per_call,
            callback_url=job.callback_url,
        )
    )
    data: dict[str, Any] = {"job_id": record.id, "status": record.status, "total": record.total}
    if record.callback_secret is not None:
        data["callback_secret"] = record.callback_secret
    return _answer(request, data, 202)


@router.get("", response_model=Envelope, responses=_responses(), summary="List this key's jobs")
async def list_jobs(
    request: Request,
    account: Annotated[KeyRecord, Depends(authenticated_key)],
    jobs: Annotated[JobService, Depends(job_service)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    records = await run_in_threadpool(jobs.store.list_jobs, account.id, limit)
    return _answer(request, {"jobs": [_summary(record) for record in records]})


@router.get(
    "/{job_id}",
    response_model=Envelope,
    responses=_responses(404),
    summary="A job's progress and its results, paged in index order",
)
async def get_job(
    request: Request,
    job_id: str,
    account: Annotated[KeyRecord, Depends(authenticated_key)],
    jobs: Annotated[JobService, Depends(job_service)],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    def read() -> tuple[JobRecord, list[ImageResult]]:
        # One trip to a worker thread for both reads; get() raises the 404 before any results.
        return jobs.store.get(job_id, account.id), jobs.store.results(job_id, offset, limit)

    record, results = await run_in_threadpool(read)
    data = _summary(record) | {"results": [result.as_listed() for result in results]}
    return _answer(request, data)


@router.delete(
    "/{job_id}",
    response_model=Envelope,
    responses=_responses(404),
    summary="Cancel the images of a job that have not started",
)
async def cancel_job(
    request: Request,
    job_id: str,
    account: Annotated[KeyRecord, Depends(authenticated_key)],
    jobs: Annotated[JobService, Depends(job_service)],
) -> Response:
    record = await run_in_threadpool(jobs.store.cancel, job_id, account.id)
    return _answer(request, _summary(record))


def _summary(record: JobRecord) -> dict[str, Any]:
    return record.described()

"""The key holder's pages: the playground, signing in and out, and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.accounts.keys import PREFIX
from imagecaption.accounts.store import KeyRevoked
from imagecaption.api.envelope import CSV, JSON, XML, YAML
from imagecaption.api.schemas import option_schemas
from imagecaption.errors import Unauthorized
from imagecaption.images.limits import format_size, payload_too_large
from imagecaption.web.access import (
    KEY_DOOR,
    session_csrf,
    sign_in,
    sign_in_form,
    sign_out,
    signed_in_key,
)
from imagecaption.web.allowance import allowance_note
from imagecaption.web.render import page
from imagecaption.web.state import ServicesDep, WebDep
from imagecaption.web.usage import HISTORY_LIMIT, dashboard_charts, per_day

router = APIRouter(include_in_schema=False)


FORMATS = [("JSON", JSON), ("XML", XML), ("YAML", YAML), ("CSV", CSV)]
RECENT_CALLS = 20
RECENT_JOBS = 20
KEY_REQUIRED = "API key is required."
# The API answers a revoked key like an unknown one; a person holding it is told why.
KEY_REVOKED = (
    "This API key was revoked by the operator of this server, so it no longer works. "
    "Ask them for a new one."
)


def masked_key(key_id: str) -> str:
    """What pages and code snippets show instead of a key: its public id, secret hidden."""
    return f"{PREFIX}-{key_id}-****"


@router.get("/")
def playground(request: Request, web: WebDep, svc: ServicesDep) -> Response:
    found = signed_in_key(request, web, svc.store)
    session, record = found if found else (None, None)
    plan = svc.settings.plans.get(record.plan) if record else None
    return page(
        "playground.html",
        signed_in=record is not None,
        record=record,
        key_hint=masked_key(record.id) if record else "",
        cost_per_call=plan.cost_per_call if plan else None,
        csrf_token=session_csrf(web, session) if session else "",
        formats=FORMATS,
        max_upload_bytes=svc.settings.max_upload_bytes,
        max_upload_size=format_size(svc.settings.max_upload_bytes),
        too_large_message=payload_too_large(svc.settings.max_upload_bytes).message,
        options=option_schemas(),
        read_text=svc.settings.read_text,
    )


@router.get("/signin")
def sign_in_page(request: Request, web: WebDep, svc: ServicesDep) -> Response:
    if signed_in_key(request, web, svc.store):
        return RedirectResponse(KEY_DOOR.home, status_code=303)
    return sign_in_form(request, web, KEY_DOOR)


@router.post("/signin")
def sign_in_with_key(
    request: Request,
    web: WebDep,
    svc: ServicesDep,
    credential: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def check(key: str) -> str:
        if not key:
            raise Unauthorized(KEY_REQUIRED)
        try:
            return svc.store.authenticate(key).id
        except KeyRevoked:
            raise Unauthorized(KEY_REVOKED) from None

    return sign_in(
        request, web, KEY_DOOR, credential=credential, csrf_token=csrf_token, check=check
    )


@router.post("/signout")
def sign_out_key(
    request: Request, web: WebDep, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    return sign_out(request, web, KEY_DOOR, csrf_token)


@router.get("/dashboard")
def dashboard(request: Request, web: WebDep, svc: ServicesDep) -> Response:
    found = signed_in_key(request, web, svc.store)
    if found is None:
        return RedirectResponse(KEY_DOOR.form_action, status_code=303)
    session, record = found
    plan = svc.settings.plans.get(record.plan)
    calls = svc.store.recent_calls(record.id, HISTORY_LIMIT)
    days = per_day(calls, datetime.now(UTC).date())
    crossed = [
        w.threshold for w in svc.store.warnings(record.id) if w.period_start == record.period_start
    ]
    return page(
        "dashboard.html",
        signed_in=True,
        record=record,
        key_hint=masked_key(record.id),
        plan=plan,
        allowance_note=allowance_note(record, plan),
        warning=max(crossed, default=None),
        charts=dashboard_charts(days),
        days=days,
        recent=calls[:RECENT_CALLS],
        jobs=request.app.state.jobs.store.list_jobs(record.id, RECENT_JOBS),
        csrf_token=session_csrf(web, session),
    )

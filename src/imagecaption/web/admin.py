"""The operator's pages under /admin: keys, credits, plans, usage, the model and its queue.

The app includes this router only when the operator set an admin token; otherwise /admin itself
answers 404 with how to turn the pages on (``admin_off``), and every other path here answers the
same 404 as a path that never existed, whatever the method.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.accounts.keys import parse_key
from imagecaption.accounts.store import KeyRecord
from imagecaption.api.services import Services
from imagecaption.errors import BadInput, ServiceError, Unauthorized
from imagecaption.jobs.store import JobRecord
from imagecaption.web.access import (
    ADMIN_DOOR,
    current_session,
    session_csrf,
    sign_in,
    sign_in_form,
    sign_out,
    verify_session_csrf,
)
from imagecaption.web.allowance import plan_change_note, plan_offer
from imagecaption.web.render import page
from imagecaption.web.sessions import Session
from imagecaption.web.state import ServicesDep, WebDep, WebState

USAGE_DAYS = 30


router = APIRouter(prefix="/admin", include_in_schema=False)

CsrfField = Annotated[str, Form(max_length=200)]
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$")]

# The newest jobs of every key that the operator page lists.
JOBS_SHOWN = 50


def check_token(web: WebState) -> Callable[[str], str]:
    """Constant-time, so that response times do not tell how much of a guess was right."""

    def check(given: str) -> str:
        expected = (web.admin_token or "").encode()
        if not expected or not hmac.compare_digest(given.encode(), expected):
            raise Unauthorized("Invalid admin token")
        return web.admin_fingerprint()

    return check


def operator_session(request: Request, web: WebState) -> Session | None:
    """The operator's session, if it was opened with the admin token that is set now."""
    session = current_session(request, web, ADMIN_DOOR)
    if session is None or session.subject != web.admin_fingerprint():
        return None
    return session


def operator_page(
    svc: Services, web: WebState, session: Session, jobs: list[JobRecord]
) -> Response:
    since = datetime.now(UTC) - timedelta(days=USAGE_DAYS)
    engine = svc.engine
    return page(
        "admin.html",
        signed_in=False,
        model=engine.captioner.info,
        engine_state=engine.state.value,
        queue_depth=engine.queue_depth,
        queue_size=svc.settings.queue_size,
        latency=svc.latency.stats(),
        usage=svc.store.usage(None, since),
        usage_days=USAGE_DAYS,
        without_key=svc.metrics.unauthenticated_counts(),
        keys=list(reversed(svc.store.list_keys())),
        jobs=jobs,
        plans=svc.settings.plans,
        plan_offers={name: plan_offer(name, plan) for name, plan in svc.settings.plans.items()},
        default_plan=svc.settings.default_plan,
        created=_created_key(svc, web, session),
        flash=web.sessions.pop_flash(session),
        csrf_token=session_csrf(web, session),
    )


def _created_key(svc: Services, web: WebState, session: Session) -> tuple[str, KeyRecord] | None:
    """The key made by the form post just before, shown on this one page and then gone."""
    secret = web.sessions.take_over(session)
    if secret is None:
        return None
    return secret, svc.store.get_key(parse_key(secret))


@router.get("")
def admin_home(request: Request, web: WebDep, svc: ServicesDep) -> Response:
    session = operator_session(request, web)
    if session is None:
        return sign_in_form(request, web, ADMIN_DOOR)
    return operator_page(
        svc, web, session, request.app.state.jobs.store.list_jobs(None, JOBS_SHOWN)
    )


@router.post("/signin")
def admin_sign_in(
    request: Request, web: WebDep, credential: CsrfField = "", csrf_token: CsrfField = ""
) -> Response:
    return sign_in(
        request,
        web,
        ADMIN_DOOR,
        credential=credential,
        csrf_token=csrf_token,
        check=check_token(web),
    )


@router.post("/signout")
def admin_sign_out(request: Request, web: WebDep, csrf_token: CsrfField = "") -> Response:
    return sign_out(request, web, ADMIN_DOOR, csrf_token)


def _operator(request: Request, web: WebState, csrf_token: str) -> Session | None:
    """The operator's session for a form post, after the cross-site checks; None: sign in."""
    session = operator_session(request, web)
    if session is not None:
        verify_session_csrf(request, web, session, csrf_token)
    return session


@router.post("/keys")
def create_key(
    request: Request,
    web: WebDep,
    svc: ServicesDep,
    plan: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=100)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Answers with a redirect like every form, so a reload never makes a second key; the new
    key waits for the next page sealed for this browser alone (``SessionStore.hand_over``)."""
    session = _operator(request, web, csrf_token)
    if session is not None:
        try:
            secret, _ = svc.store.create_key(plan, name.strip() or None)
        except ServiceError as refused:
            web.sessions.set_flash(session, refused.message)
        else:
            web.sessions.hand_over(session, secret)
    return RedirectResponse(ADMIN_DOOR.home, status_code=303)


def _act(request: Request, web: WebState, csrf_token: str, action: Callable[[], str]) -> Response:
    """Run one change for a signed-in operator, then redirect to the page with its outcome."""
    session = _operator(request, web, csrf_token)
    if session is not None:
        try:
            outcome = action()
        except ServiceError as refused:
            outcome = refused.message
        web.sessions.set_flash(session, outcome)
    return RedirectResponse(ADMIN_DOOR.home, status_code=303)


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    request: Request, web: WebDep, svc: ServicesDep, key_id: KeyId, csrf_token: CsrfField = ""
) -> Response:
    def revoke() -> str:
        svc.store.revoke(key_id)
        web.sessions.end_for_key(key_id)
        return f"Key {key_id} revoked; its holder is signed out."

    return _act(request, web, csrf_token, revoke)


@router.post("/keys/{key_id}/credits")
def add_credits(
    request: Request,
    web: WebDep,
    svc: ServicesDep,
    key_id: KeyId,
    credits: Annotated[str, Form(max_length=20)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    def add() -> str:
        amount = credits_to_add(credits)
        record = svc.store.add_credits(key_id, amount)
        return f"Added {amount:,} credits to key {key_id}: {record.balance:,} left."

    return _act(request, web, csrf_token, add)


MAX_TOP_UP = 1_000_000_000


def credits_to_add(text: str) -> int:
    """The top-up field, read here rather than by the form parser, so that a wrong number comes
    back as a notice on the operator page instead of an error page."""
    amount = text.strip().replace(",", "").replace("_", "")
    if not amount.isdigit() or not 1 <= int(amount) <= MAX_TOP_UP:
        raise BadInput(
            f"Credits to add must be a whole number from 1 to {MAX_TOP_UP:,}; "
            f"{text.strip() or 'nothing'!r} is not."
        )
    return int(amount)


@router.post("/keys/{key_id}/plan")
def change_plan(
    request: Request,
    web: WebDep,
    svc: ServicesDep,
    key_id: KeyId,
    plan: Annotated[str, Form(max_length=100)],
    csrf_token: CsrfField = "",
) -> Response:
    def change() -> str:
        before = svc.store.get_key(key_id)
        after = svc.store.set_plan(key_id, plan)
        plans = svc.settings.plans
        return plan_change_note(before, after, plans.get(before.plan), plans[after.plan])

    return _act(request, web, csrf_token, change)

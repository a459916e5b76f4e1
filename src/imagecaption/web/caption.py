"""POST /ui/api/caption: the playground's same-origin way to caption with the signed-in key.

The session stands in for the X-API-Key header and nothing else changes: the call goes through
the API's own caption flow, so it is charged, rate limited, recorded and rendered (envelope,
Accept format, headers) exactly as ``/v1/imagecaption`` would for the same key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.accounts.store import KeyRecord, KeyRevoked
from imagecaption.api.auth import admit
from imagecaption.api.routes import caption_flow
from imagecaption.errors import Unauthorized
from imagecaption.web.access import KEY_DOOR, current_session, key_of, verify_session_csrf
from imagecaption.web.pages import KEY_REVOKED
from imagecaption.web.state import ServicesDep, WebDep

router = APIRouter(include_in_schema=False)

CSRF_HEADER = "x-csrf-token"
NOT_SIGNED_IN = "Not signed in: sign in with your API key first, or type a key in the playground."
SIGNED_OUT_REVOKED = KEY_REVOKED + " You have been signed out."


def session_caller(request: Request, web: WebDep, svc: ServicesDep) -> KeyRecord:
    """The signed-in key, for a same-origin request that carries the page's CSRF token."""
    session = current_session(request, web, KEY_DOOR)
    if session is None:
        raise Unauthorized(NOT_SIGNED_IN)
    verify_session_csrf(request, web, session, request.headers.get(CSRF_HEADER))
    record = key_of(session, web, svc.store)
    if record is None:  # keys are never deleted: it was revoked
        raise Unauthorized(SIGNED_OUT_REVOKED)
    admit(request, svc, record)
    return record


@router.post("/ui/api/caption")
async def caption_for_session(
    request: Request,
    account: Annotated[KeyRecord, Depends(session_caller)],
    svc: ServicesDep,
) -> Response:
    with svc.engine.call_in_progress():  # job images wait for it, as for an API call
        return await caption_flow(request, account, svc)


@router.post("/ui/api/key-state")
def key_state(
    svc: ServicesDep, x_api_key: Annotated[str, Header(max_length=200)] = ""
) -> dict[str, str | None]:
    """Why the API refused a key typed into the playground: unknown, or revoked.

    The API answers both alike ("Invalid API key"), as its contract says; the playground asks
    here so that a person learns their key was revoked. Only the key's holder can learn it: the
    secret must match, exactly as for a call.
    """
    try:
        svc.store.authenticate(x_api_key.strip())
    except KeyRevoked:
        return {"state": "revoked", "message": KEY_REVOKED}
    except Unauthorized:
        return {"state": "invalid", "message": None}
    return {"state": "active", "message": None}

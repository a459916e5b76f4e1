"""GET /status: the model and the latency figures of /v1/stats, as a page for people.

/v1/stats stays the machine-readable source; this page reads the same live window.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from imagecaption.web.access import nav_state
from imagecaption.web.render import page
from imagecaption.web.state import ServicesDep, WebDep

router = APIRouter(include_in_schema=False)


@router.get("/status")
def status_page(request: Request, web: WebDep, svc: ServicesDep) -> Response:
    engine = svc.engine
    return page(
        "status.html",
        model=engine.captioner.info,
        engine_state=engine.state.value,
        latency=svc.latency.stats(),
        **nav_state(request, web, svc.store),
    )

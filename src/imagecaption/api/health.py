"""Liveness, readiness, Prometheus metrics and the published-style latency figures."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from imagecaption.api.services import Services, services
from imagecaption.api.workers import multiprocess_metrics
from imagecaption.engine import EngineState

router = APIRouter()


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the model is loaded and warm")
async def readyz(svc: Annotated[Services, Depends(services)]) -> Response:
    engine = svc.engine
    ready = engine.state is EngineState.READY
    body: dict[str, Any] = {
        "status": "ready" if ready else engine.state.value,
        "model": asdict(engine.captioner.info),
        "queue_depth": engine.queue_depth,
        # Degraded shared state costs precision, not answers, so it does not fail readiness.
        "shared_state": {"rate_limits": svc.limiter.mode, "cache": engine.shared_cache.mode},
    }
    if engine.error:
        body["error"] = engine.error
    headers = {} if ready else {"Retry-After": str(svc.settings.retry_after_seconds)}
    return JSONResponse(body, status_code=200 if ready else 503, headers=headers)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(svc: Annotated[Services, Depends(services)]) -> Response:
    svc.metrics.queue_depth.set(svc.engine.queue_depth)
    registry = svc.metrics.registry
    if multiprocess_metrics():  # serve --workers N: every worker's values, from their files
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/stats", summary="Latency of successful captions on this deployment")
async def stats(svc: Annotated[Services, Depends(services)]) -> dict[str, Any]:
    """The avg/p50/p75/p90/p99 figures the hosted service publishes, measured here, live."""
    figures = svc.latency.stats()
    return {
        "model": svc.engine.captioner.info.name,
        "window": figures.count,
        "latency_ms": {
            name: None if value is None else round(value, 1)
            for name, value in (
                ("avg", figures.avg_ms),
                ("p50", figures.p50_ms),
                ("p75", figures.p75_ms),
                ("p90", figures.p90_ms),
                ("p99", figures.p99_ms),
            )
        },
    }

"""create_app wires settings, store, engine and routes; nothing else builds these objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from imagecaption import __version__, web
from imagecaption.accounts.database import DatabaseUnavailable
from imagecaption.accounts.ledger import Ledger
from imagecaption.accounts.ratelimit import RateLimiter
from imagecaption.accounts.recent_keys import RecentKeys
from imagecaption.accounts.schema import migrates_itself
from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.api import health, jobs, routes
from imagecaption.api.clients import trust_proxies
from imagecaption.api.errors import install_error_handlers
from imagecaption.api.lane import answer_first
from imagecaption.api.middleware import RequestContextMiddleware
from imagecaption.api.openapi import install_openapi
from imagecaption.api.services import Services
from imagecaption.engine import CaptionEngine
from imagecaption.engine.shared_cache import NoSharedCache, RedisCaptionCache, SharedCache
from imagecaption.images import ImageDecoder, ImageFetcher
from imagecaption.images.heap import set_mmap_threshold
from imagecaption.jobs.service import JobService
from imagecaption.models.registry import create_captioner
from imagecaption.observability.latency import LatencyWindow
from imagecaption.observability.metrics import Metrics
from imagecaption.settings import Settings

log = logging.getLogger(__name__)

EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "Retry-After",
    "x-api-tokens-used",
    "x-api-max-tokens",
    "x-api-remaining-tokens",
    "x-api-current-plan",
    "x-api-renewal",
]


def _shared_state(settings: Settings) -> tuple[RateLimiter, SharedCache]:
    """Redis when configured, else per-process state; either way the start log says which."""
    if settings.redis_url is None:
        log.warning(
            "no redis_url: rate limits and the caption cache are local to this process; "
            "with several replicas each one limits and caches on its own"
        )
        return RateLimiter(), NoSharedCache()
    url = settings.redis_url.get_secret_value()
    log.info("rate limits and the caption cache are shared through Redis")
    return RateLimiter(url), RedisCaptionCache(url, settings.shared_cache_ttl_seconds)


def build_services(settings: Settings, metrics: Metrics) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    set_mmap_threshold(settings.return_image_memory_bytes)  # for the whole process, once
    url = settings.resolved_database_url
    store = SqlAccountStore(
        url,
        settings.plans,
        reservation_ttl_seconds=settings.reservation_ttl_seconds,
        warning_thresholds=settings.usage_warning_thresholds,
        auto_migrate=settings.auto_migrate or migrates_itself(url),
    )
    limiter, shared_cache = _shared_state(settings)
    engine = CaptionEngine(
        create_captioner(settings),
        metrics,
        queue_size=settings.queue_size,
        max_batch_size=settings.max_batch_size,
        max_batch_wait_ms=settings.max_batch_wait_ms,
        max_batch_gather_ms=settings.max_batch_gather_ms,
        cache_size=settings.cache_size,
        retry_after_seconds=settings.retry_after_seconds,
        shared_cache=shared_cache,
        background_slots=max(settings.job_workers, 1),
        background_quiet_ms=settings.job_quiet_ms,
        background_interval_ms=1000 / settings.job_min_images_per_second,
    )
    fetcher = ImageFetcher(
        max_bytes=settings.max_upload_bytes,
        connect_timeout=settings.url_connect_timeout,
        read_timeout=settings.url_read_timeout,
        max_redirects=settings.url_max_redirects,
        allow_list=settings.url_allow_list,
    )
    return Services(
        settings=settings,
        metrics=metrics,
        store=store,
        ledger=Ledger(store),
        recent_keys=RecentKeys(settings.key_cache_seconds),
        limiter=limiter,
        engine=engine,
        fetcher=fetcher,
        decoder=ImageDecoder(settings.max_pixels),
        latency=LatencyWindow(),
    )


async def _release_expired_forever(svc: Services) -> None:
    """Refund reservations left behind by a crashed process, now and then."""
    interval = max(svc.settings.reservation_ttl_seconds / 2, 1)
    while True:
        try:
            released = await run_in_threadpool(svc.store.release_expired)
            if released:
                log.warning("released expired credit reservations", extra={"count": released})
        except DatabaseUnavailable as unavailable:  # retried next time; no traceback each time
            log.warning("releasing expired reservations failed: %s", unavailable.cause)
        except Exception:
            log.exception("releasing expired reservations failed")
        await asyncio.sleep(interval)


def install_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """The app's own middleware, which every request crosses, the caption route's included."""
    # Added innermost first: CORS ends up outermost so that even crash answers carry its headers.
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_image_bytes=settings.max_upload_bytes,
        body_timeout=settings.body_read_timeout_seconds,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
    trust_proxies(app, settings.trusted_proxies)


def create_app_from_env() -> FastAPI:
    """The app factory of each ``serve --workers N`` process: settings come from the environment."""
    from imagecaption.api import connections
    from imagecaption.observability.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    connections.configure(settings)
    return create_app(settings)


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = build_services(settings, metrics)
        app.state.services = svc
        loading = asyncio.create_task(svc.engine.start())
        janitor = asyncio.create_task(_release_expired_forever(svc))
        app.state.jobs = JobService(settings, metrics, svc.engine, svc.fetcher, svc.decoder)
        await app.state.jobs.start(asyncio.shield(loading))
        try:
            yield
        finally:
            janitor.cancel()
            await app.state.jobs.stop()
            await loading
            await svc.engine.stop()
            await svc.fetcher.aclose()
            await svc.ledger.aclose()  # the charges of answers already sent
            svc.store.close()
            log.info("stopped")

    # FastAPI's /docs page loads Swagger UI from a CDN; fastapi-offline serves the copy shipped in
    # its wheel, so the docs work on air-gapped machines too, and the web pages wrap it in their
    # own /docs page. No /redoc: ReDoc still fetches its logo from its CDN.
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        static_url=web.SWAGGER_UI_ASSETS,
        title="Image Caption API",
        version=__version__,
        summary="Self-hosted, drop-in compatible image captioning.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry instrumentation looked for configured providers on every
        # request; the service reports through its Prometheus metrics and logs instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(jobs.router)
    app.include_router(routes.router)
    app.include_router(health.router)
    app.include_router(web.router)
    app.include_router(web.admin_router if web.admin_enabled(settings) else web.admin_off_router)
    app.mount(web.STATIC_PATH, web.StaticAssets(), name="static")
    install_middleware(app, settings, metrics)
    answer_first(app, routes.hot_routes())
    return app

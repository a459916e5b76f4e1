"""The long-lived objects a request handler needs, built once per app in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from imagecaption.accounts.ledger import Ledger
from imagecaption.accounts.ratelimit import RateLimiter
from imagecaption.accounts.recent_keys import RecentKeys
from imagecaption.accounts.store import AccountStore
from imagecaption.engine import CaptionEngine
from imagecaption.images import ImageDecoder, ImageFetcher
from imagecaption.observability.latency import LatencyWindow
from imagecaption.observability.metrics import Metrics
from imagecaption.settings import Settings


@dataclass
class Services:
    settings: Settings
    metrics: Metrics
    store: AccountStore
    ledger: Ledger  # the credit writes of calls, on the event loop's side
    recent_keys: RecentKeys
    limiter: RateLimiter
    engine: CaptionEngine
    fetcher: ImageFetcher
    decoder: ImageDecoder
    latency: LatencyWindow


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found

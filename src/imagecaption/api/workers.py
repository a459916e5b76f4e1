"""Several server processes on one port: settings travel by environment, metrics by files.

uvicorn starts each worker in a fresh interpreter and can only hand it an import string, so the
settings this command resolved (config file plus flags) are passed down as ``IMAGECAPTION_*``
variables, which rank above the config file in every worker. Each worker counts into its own
Prometheus registry; in multiprocess mode prometheus_client writes the values to files in a shared
folder, and /metrics sums them over every worker, whichever worker answers the scrape.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any

from imagecaption.settings import ENV_PREFIX, Settings

APP_FACTORY = "imagecaption.api.app:create_app_from_env"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def export_settings(overrides: dict[str, Any]) -> None:
    """Put the flags given on the command line where every worker's Settings() will read them."""
    for name, value in overrides.items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = str(value)


def prepare_multiprocess_metrics() -> None:
    """A fresh metrics folder per start: values left by a previous run must not be added in."""
    if os.environ.get(MULTIPROC_ENV):
        return
    folder = tempfile.mkdtemp(prefix="imagecaption-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    atexit.register(shutil.rmtree, folder, True)


def multiprocess_metrics() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def run_workers(settings: Settings, overrides: dict[str, Any]) -> None:
    import uvicorn

    export_settings(overrides)
    prepare_multiprocess_metrics()
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        workers=settings.workers,
        **server_options(settings),
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options shared by one process and many: our logs replace uvicorn's own, and
    connections are bounded and answered in the envelope (see ``protocol``). Sets this
    process's connection limits, which ``--workers`` processes inherit and set again. uvicorn's
    own proxy-headers handling is off: it would trust any loopback peer; the app trusts only
    ``trusted_proxies`` (see ``clients``)."""
    from imagecaption.api import connections
    from imagecaption.api.protocol import ENVELOPE_PROTOCOL

    connections.configure(settings)

    return {
        "http": ENVELOPE_PROTOCOL,
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": int(settings.graceful_shutdown_seconds),
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
    }

"""What the web pages keep for the app's lifetime, built once at start-up beside the services."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI
from starlette.requests import Request

from imagecaption.api.services import Services, services
from imagecaption.settings import Settings
from imagecaption.web.error_pages import error_page
from imagecaption.web.security import CsrfTokens, SignInLimiter
from imagecaption.web.sessions import SessionStore

SECRET_FILE = "session-secret"  # noqa: S105 (a file name, not a secret)
SESSIONS_FILE = "web-sessions.sqlite3"


@dataclass
class WebState:
    """Per app rather than global, so that two apps in one process (tests) never share state."""

    sessions: SessionStore
    csrf: CsrfTokens
    sign_in: SignInLimiter
    admin_token: str | None

    def admin_fingerprint(self) -> str:
        """Operator sessions carry this keyed digest of the token they signed in with, so that
        rotating the token signs every operator out, even across a restart."""
        return self.csrf.token("admin-token:" + (self.admin_token or ""))


def load_or_create_secret(data_dir: Path) -> bytes:
    """The generated secret, made once and shared by every process using this data directory.

    It is written to a temporary file and hard-linked into place, which fails if another process
    got there first: nobody ever reads a half-written secret, and the first one written wins.
    """
    path = data_dir / SECRET_FILE
    if not path.exists():
        temporary = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        temporary.unlink()
    return path.read_bytes().strip()


def admin_token_of(settings: Settings) -> str | None:
    """The operator's token; an empty one counts as unset, so the pages stay off."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return token or None


def build_web_state(settings: Settings) -> WebState:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configured = settings.session_secret.get_secret_value() if settings.session_secret else ""
    secret = configured.encode() if configured else load_or_create_secret(settings.data_dir)
    return WebState(
        sessions=SessionStore(settings.data_dir / SESSIONS_FILE),
        csrf=CsrfTokens(secret),
        sign_in=SignInLimiter(settings.sign_in_attempts_per_minute),
        admin_token=admin_token_of(settings),
    )


@contextlib.asynccontextmanager
async def web_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the web state once the services exist, and answer browsers' errors with pages.

    FastAPI runs an included router's lifespan inside the app's own, after the app's has set up
    ``app.state.services`` and before the first request.
    """
    svc: Services = app.state.services
    app.state.web = build_web_state(svc.settings)
    app.state.error_page = error_page
    yield


def web_state(request: Request) -> WebState:
    found: WebState = request.app.state.web
    return found


WebDep = Annotated[WebState, Depends(web_state)]
ServicesDep = Annotated[Services, Depends(services)]

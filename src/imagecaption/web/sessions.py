"""Server-side web sessions in a small SQLite file beside the data.

Server-side rather than signed cookies, so that signing out, or an operator revoking a key,
ends a session for good instead of waiting for a cookie to expire; on disk, so that sessions
survive a restart. The browser holds only a random token; the file holds its SHA-256, so a copy
of the file signs no one in. The API key or admin token itself is never stored anywhere, except a
new key between the operator's form post and the page that shows it, sealed with the session
token (see ``handover``), so the file alone cannot open it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imagecaption.accounts.database import UNAVAILABLE_RETRY_AFTER_SECONDS
from imagecaption.errors import Overloaded
from imagecaption.web.handover import seal, unseal

log = logging.getLogger(__name__)

Kind = Literal["key", "admin"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    expires_at REAL NOT NULL,
    flash TEXT
)
"""
_HANDOVER_SCHEMA = """
CREATE TABLE IF NOT EXISTS handovers (
    id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    expires_at REAL NOT NULL
)
"""
HANDOVER_TTL_SECONDS = 300


@dataclass(frozen=True)
class Session:
    """``subject`` is what the session is for: a key id, or the admin token's fingerprint."""

    token: str
    kind: Kind
    subject: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)
            connection.execute(_HANDOVER_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection per use: cheap for SQLite, and safe from any thread of the pool.

        A file that cannot be opened or written (a full disk, a read-only folder, a lock held
        too long) is a 503 with Retry-After, as for the account database, never a 500.
        """
        try:
            connection = sqlite3.connect(self._path, timeout=10)
            try:
                with connection:  # one transaction, committed on success
                    yield connection
            finally:
                connection.close()
        except sqlite3.OperationalError as error:
            log.warning("the web sessions file %s is unavailable: %s", self._path, error)
            raise Overloaded(
                "Sessions cannot be stored right now. Retry shortly.",
                retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
            ) from error

    def create(self, kind: Kind, subject: str, ttl_seconds: float) -> str:
        """Start a session and return its token; expired sessions are swept on the way."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._connect() as connection:
            connection.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            connection.execute(
                "INSERT INTO sessions (id, kind, subject, expires_at) VALUES (?, ?, ?, ?)",
                (_digest(token), kind, subject, now + ttl_seconds),
            )
        return token

    def get(self, token: str | None, kind: Kind) -> Session | None:
        if not token:
            return None
        with self._connect() as connection:
            row = connection.execute(
                "SELECT subject FROM sessions WHERE id = ? AND kind = ? AND expires_at > ?",
                (_digest(token), kind, time.time()),
            ).fetchone()
        return None if row is None else Session(token, kind, row[0])

    def end(self, token: str | None) -> None:
        if token:
            with self._connect() as connection:
                connection.execute("DELETE FROM sessions WHERE id = ?", (_digest(token),))

    def end_for_key(self, key_id: str) -> None:
        """A revoked key signs its holder out everywhere at once."""
        with self._connect() as connection:
            connection.execute("DELETE FROM sessions WHERE kind = 'key' AND subject = ?", (key_id,))

    def set_flash(self, session: Session, message: str) -> None:
        """A one-time notice for the next page, so that a form can answer with a redirect."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE sessions SET flash = ? WHERE id = ?", (message, _digest(session.token))
            )

    def pop_flash(self, session: Session) -> str | None:
        digest = _digest(session.token)
        with self._connect() as connection:
            row = connection.execute(
                "SELECT flash FROM sessions WHERE id = ?", (digest,)
            ).fetchone()
            if row is None or row[0] is None:
                return None
            connection.execute("UPDATE sessions SET flash = NULL WHERE id = ?", (digest,))
        return str(row[0])

    def hand_over(self, session: Session, secret: str) -> None:
        """Keep a secret for the session's next page, so that the form that made it can answer
        with a redirect (a reload then never posts again). Uncollected, it expires in minutes."""
        now = time.time()
        with self._connect() as connection:
            connection.execute("DELETE FROM handovers WHERE expires_at <= ?", (now,))
            connection.execute(
                "INSERT OR REPLACE INTO handovers (id, sealed, expires_at) VALUES (?, ?, ?)",
                (_digest(session.token), seal(session.token, secret), now + HANDOVER_TTL_SECONDS),
            )

    def take_over(self, session: Session) -> str | None:
        """The secret handed over, once: taking it deletes it."""
        digest = _digest(session.token)
        with self._connect() as connection:
            row = connection.execute(
                "SELECT sealed FROM handovers WHERE id = ? AND expires_at > ?",
                (digest, time.time()),
            ).fetchone()
            deleted = connection.execute("DELETE FROM handovers WHERE id = ?", (digest,))
        if row is None or deleted.rowcount != 1:  # expired, or another request took it first
            return None
        return unseal(session.token, str(row[0]))

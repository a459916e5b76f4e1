"""Storage faults named for the operator: which folder or database, what is wrong, what to do.

A server that cannot write its data folder, or reach its database, says so in one line at start
and the command exits with status 1; a traceback that ends in "Retry shortly" names neither the
folder nor the cause. While the server runs, the same faults are a 503 with Retry-After to
clients (``accounts.database``, ``web.sessions``), and the log names the cause.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from imagecaption.accounts.database import DatabaseUnavailable
from imagecaption.settings import ENV_PREFIX

_CAUSES = {
    errno.EROFS: "it is on a read-only file system",
    errno.ENOSPC: "its disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "this user may not write in it",
    errno.EPERM: "this user may not write in it",
}
_WHAT_TO_DO = {
    errno.EROFS: "Mount it read-write",
    errno.ENOSPC: "Free some space",
    errno.EDQUOT: "Free some space",
}
_DATA_DIR_SETTING = f"data_dir ({ENV_PREFIX}DATA_DIR)"
_DATABASE_SETTING = f"database_url ({ENV_PREFIX}DATABASE_URL)"
# Substrings of PostgreSQL's refusals, in the order they are looked for, and what to fix.
_POSTGRES_HINTS = (
    (
        ("password authentication failed", "role", "no password", "pg_hba.conf"),
        "the user and password",
    ),
    (('database "',), "the database name (or create the database)"),
    (
        ("refused", "timeout", "translate host", "resolve", "unreachable"),
        "the host and port (or start the server)",
    ),
)


class StorageUnusable(Exception):
    """The data folder or the account database cannot be used; the message says which and why."""


def folder_fault(folder: Path, error: OSError) -> str:
    """Two lines: the folder and the cause, then what to do about it."""
    cause = _CAUSES.get(error.errno or 0, error.strerror or str(error))
    action = _WHAT_TO_DO.get(error.errno or 0, "Fix its permissions")
    return (
        f"The data folder {folder} cannot be written: {cause}.\n"
        f"{action}, or set {_DATA_DIR_SETTING} to a writable folder."
    )


def check_writable(folder: Path) -> None:
    """Create the folder and write a page in it, so that a full or read-only disk is named now.

    The file is written, synced and removed: a server that cannot do that cannot take a single
    paid call, as every call writes its reservation.
    """
    probe = folder / f".write-check-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with probe.open("wb") as handle:
                handle.write(bytes(4096))
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            probe.unlink(missing_ok=True)
    except OSError as error:
        raise StorageUnusable(folder_fault(folder, error)) from error


def describe_database_fault(error: BaseException, database_url: str) -> str:
    """One line, or two for the data folder, for a database that could not be opened or written."""
    cause = error.__cause__ if isinstance(error, DatabaseUnavailable) else error
    original = cause.orig if isinstance(cause, DBAPIError) else cause
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_fault(Path(url.database or ""), original)
    shown = url.render_as_string(hide_password=True)
    reason = _postgres_reason(str(original))
    fix = next(
        (
            f"Fix {fix} in"
            for words, fix in _POSTGRES_HINTS
            if any(word in reason for word in words)
        ),
        "Check",
    )
    return f"The account database {shown} cannot be used: {reason}. {fix} {_DATABASE_SETTING}."


def _sqlite_fault(path: Path, error: BaseException | None) -> str:
    """The folder's own fault when writing in it fails, which is what SQLite's "disk I/O error"
    or "unable to open database file" usually means; else SQLite's word for it."""
    folder = path.expanduser().parent
    try:
        check_writable(folder)
    except StorageUnusable as fault:
        return str(fault)
    if isinstance(error, sqlite3.Error) and error.sqlite_errorcode == sqlite3.SQLITE_BUSY:
        return f"The account database {path} is locked by another process; retry when it is done."
    return f"The account database {path} cannot be used: {error}."


def _postgres_reason(text: str) -> str:
    """The server's own sentence, without the driver's "connection to server ... failed:" frame."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else text
    if "FATAL:" in first:
        return first.rsplit("FATAL:", 1)[1].strip()
    return first.rsplit("failed:", 1)[-1].strip() or first

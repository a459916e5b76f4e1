"""Errors that carry their own HTTP meaning.

Every layer (images, accounts, engine) raises these instead of returning codes, so the API layer
turns any of them into the seed's envelope in one place and nothing else ever reaches a client.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An expected failure with a message that is safe to show to the client."""

    status_code: int = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadInput(ServiceError):
    """The request or the image in it cannot be used (400)."""

    status_code = 400


class PayloadTooLarge(ServiceError):
    """The upload or download exceeds the configured byte limit (413)."""

    status_code = 413


class RequestTimeout(ServiceError):
    """The request body did not arrive in time (408); the connection is closed after it."""

    status_code = 408

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Connection": "close"})


class Unauthorized(ServiceError):
    """No API key, or one that is unknown or revoked (401)."""

    status_code = 401


class InsufficientCredits(ServiceError):
    """The key's balance cannot cover the call (403)."""

    status_code = 403


class RateLimited(ServiceError):
    """The key exceeded its plan's per-minute request limit (429)."""

    status_code = 429


class Overloaded(ServiceError):
    """The work queue is full or the model is not ready (503); always sent with Retry-After."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class NotFound(ServiceError):
    """An unknown key id, plan or route (404)."""

    status_code = 404

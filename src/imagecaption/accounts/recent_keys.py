"""Keys authenticated a moment ago, so that a key's every call need not read its row first.

A key sending many calls a second had its row read (and its secret checked) for each; reading
it at most once every ``seconds`` per process saves a database read and a trip to a worker
thread per call. What may be stale for that long, and what may not:

- credits are never taken on the strength of a remembered balance: they are reserved by the
  conditional ``UPDATE`` as before, which also refuses a revoked key at once, and each
  reservation refreshes the remembered record with the balance it left;
- a revocation, a plan change (price, rate limit) or a top-up made by another process or an
  operator may take up to ``seconds`` to apply to the checks made before that (the rate limit,
  the early 403 of a balance that cannot cover the call); a renewal that is due is never taken
  from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from imagecaption.accounts.store import KeyRecord


class RecentKeys:
    """Per-process; not thread-safe beyond what single dict operations give (the event loop
    uses it)."""

    def __init__(
        self,
        seconds: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._max_keys = max_keys
        self._clock = clock
        self._records: dict[str, tuple[KeyRecord, float]] = {}  # secret -> record, expiry
        self._secrets: dict[str, str] = {}  # key id -> secret

    def get(self, api_key: str) -> KeyRecord | None:
        found = self._records.get(api_key)
        if found is None:
            return None
        record, expires = found
        if self._clock() >= expires or datetime.now(UTC) >= record.renews_at:
            self._forget(api_key)
            return None
        return record

    def put(self, api_key: str, record: KeyRecord) -> None:
        if self._seconds <= 0 or record.revoked:
            return
        if len(self._records) >= self._max_keys:
            self._prune()
        self._records[api_key] = (record, self._clock() + self._seconds)
        self._secrets[record.id] = api_key

    def refresh(self, record: KeyRecord) -> None:
        """A newer state of a remembered key (after a reservation): kept until the old
        expiry, so that a busy key is still read again every ``seconds``."""
        api_key = self._secrets.get(record.id)
        found = None if api_key is None else self._records.get(api_key)
        if api_key is not None and found is not None:
            self._records[api_key] = (record, found[1])

    def _forget(self, api_key: str) -> None:
        found = self._records.pop(api_key, None)
        if found is not None:
            self._secrets.pop(found[0].id, None)

    def _prune(self) -> None:
        now = self._clock()
        for api_key in [k for k, (_, expires) in self._records.items() if expires <= now]:
            self._forget(api_key)
        while len(self._records) >= self._max_keys:  # all fresh: forget the oldest
            self._forget(next(iter(self._records)))

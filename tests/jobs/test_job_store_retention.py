"""Which finished jobs the retention sweep deletes, on an injected clock: only those that ended
more than the retention ago and whose webhook is settled (delivered or given up)."""

from __future__ import annotations

import pytest

from imagecaption.accounts.sql_store import SqlAccountStore
from imagecaption.errors import NotFound
from imagecaption.jobs.store import SqlJobStore
from tests.accounts.conftest import PLANS, THRESHOLDS, TTL_SECONDS, Clock


def test_only_jobs_past_their_retention_and_done_with_their_webhook_are_deleted(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    clock = Clock()
    accounts = SqlAccountStore(
        url, PLANS, reservation_ttl_seconds=TTL_SECONDS, warning_thresholds=THRESHOLDS, clock=clock
    )
    store = SqlJobStore(url, retention_days=2, clock=clock)
    try:
        _, key = accounts.create_key("pro")

        def finished_job(callback_url: str | None = None) -> str:
            job = store.create(key, ["x"], options={}, cost=10, callback_url=callback_url)
            (image,) = store.claim(8, 60)
            store.finish(image, result={"caption": "A cat."})
            return job.id

        old = finished_job()
        hooked = finished_job("https://example.org/hook")  # its webhook is due: kept
        clock.advance(days=1)
        recent = finished_job()
        running = store.create(key, ["x"], options={}, cost=10, callback_url=None).id
        clock.advance(days=1, seconds=1)
        assert store.delete_expired() == 1
        with pytest.raises(NotFound, match="deleted 2 days after they end"):
            store.get(old)
        assert store.results(old, 0, 10) == []
        for kept in (hooked, running, recent):
            assert store.get(kept).id == kept
        store.record_callback(hooked, status=500, delivered=False, retry_at=None)  # given up
        assert store.get(hooked).callback_state == "failed"
        assert store.delete_expired() == 1
        clock.advance(days=1)
        assert store.delete_expired() == 1  # recent; the running one never goes
        assert [job.id for job in store.list_jobs()] == [running]
    finally:
        store.close()
        accounts.close()

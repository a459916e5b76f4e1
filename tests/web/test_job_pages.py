"""Batch jobs on the dashboard (the key's own, with progress) and the operator page (every
key's), accessible as every page is."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Page

from tests.e2e.server import RunningServer
from tests.jobs.conftest import JOBS, inline, small_image, wait_until_ended
from tests.jobs.receiver import WebhookReceiver
from tests.web.actions import admin_sign_in, key_sign_in
from tests.web.conftest import assert_accessible


def test_jobs_show_with_their_progress_to_their_key_and_the_operator(
    page: Page, web_server: RunningServer, axe_source: str
) -> None:
    key, key_id = web_server.create_key_with_id("pro")
    receiver = WebhookReceiver([500] * 100)
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        images = [inline(small_image(7000 + i)) for i in range(3)]
        job_id = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images}).json()[
            "data"
        ]["job_id"]
        wait_until_ended(client, key, job_id)
        hooked_id = client.post(
            JOBS,
            headers={"X-API-Key": key},
            json={"images": images[:1], "callback_url": receiver.url},
        ).json()["data"]["job_id"]
        try:
            deadline = time.monotonic() + 30
            while wait_until_ended(client, key, hooked_id)["callback"]["state"] != "failed":  # type: ignore[index]
                assert time.monotonic() < deadline, "the webhook was never given up"
                time.sleep(0.2)
        finally:
            receiver.close()
    key_sign_in(page, key)
    row = page.locator(f"#job-{job_id}")
    assert row.locator("td[data-label='Status']").inner_text() == "done"
    assert row.locator("td[data-label='Progress']").inner_text().strip() == "3 of 3"
    assert row.locator("progress").get_attribute("value") == "3"
    assert row.locator("td[data-label='Webhook']").inner_text() == "none"
    hooked = page.locator(f"#job-{hooked_id} td[data-label='Webhook']").inner_text()
    assert hooked.startswith("failed: given up after"), hooked
    assert_accessible(page, axe_source)
    admin_sign_in(page)
    row = page.locator(f"#job-{job_id}")
    assert row.locator("td[data-label='Key id']").inner_text() == key_id
    assert_accessible(page, axe_source)

"""The jobs contract over HTTP against a real server on SQLite: submit, read, page, list, cancel,
over-budget refusals, other keys' jobs, the signed webhook and its retries."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer
from tests.jobs.conftest import JOBS, inline, small_image, wait_until_ended
from tests.jobs.receiver import WebhookReceiver


@pytest.fixture
def client(job_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=job_server.url, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def site() -> Iterator[ImageSite]:
    served = ImageSite()
    yield served
    served.httpd.shutdown()


def balance(server: RunningServer, key_id: str) -> tuple[int, int]:
    keys = json.loads(server.cli("keys", "list", "--json"))
    record = next(k for k in keys if k["id"] == key_id)
    return record["balance"], record["used"]


def test_job_captions_urls_and_inline_images_and_charges_each_once(
    job_server: RunningServer, client: httpx.Client, site: ImageSite
) -> None:
    key, key_id = job_server.create_key_with_id("pro")
    before, _ = balance(job_server, key_id)
    images = [
        site.add("/job/a.jpg", small_image(1)),
        inline(small_image(2)),
        site.url + "/job/missing.jpg",  # 404: fails, free
        small_image(3).hex(),  # neither URL nor base64: fails, free
        site.add("/job/b.jpg", small_image(4)),
    ]
    answer = client.post(
        JOBS, headers={"X-API-Key": key}, json={"images": images, "num_captions": 2}
    )
    assert answer.status_code == 202, answer.text
    submitted = answer.json()
    assert submitted["status"] == "ok"
    assert submitted["data"]["status"] == "queued"
    assert submitted["data"]["total"] == 5
    assert "callback_secret" not in submitted["data"]
    job = wait_until_ended(client, key, submitted["data"]["job_id"])
    assert (job["status"], job["succeeded"], job["failed"]) == ("done", 3, 2)
    results = job["results"]
    assert isinstance(results, list)
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert results[0]["image"] == images[0]
    for index in (0, 1, 4):
        assert "cat" in results[index]["caption"].lower()
        assert len(results[index]["captions"]) == 2
    assert "404" in results[2]["error"]
    assert "error" in results[3]
    assert "caption" not in results[3]
    after, used = balance(job_server, key_id)
    assert before - after == 30
    assert used == 30
    report = json.loads(job_server.cli("usage", "--key", key_id, "--json"))
    assert report["charged_calls"] == 3


def test_results_are_paged_in_index_order(job_server: RunningServer, client: httpx.Client) -> None:
    key = job_server.create_key("pro")
    images = [inline(small_image(100 + i)) for i in range(7)]
    job_id = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images}).json()["data"][
        "job_id"
    ]
    wait_until_ended(client, key, job_id)
    page = client.get(f"{JOBS}/{job_id}?offset=2&limit=3", headers={"X-API-Key": key})
    assert [r["index"] for r in page.json()["data"]["results"]] == [2, 3, 4]
    listed = client.get(JOBS, headers={"X-API-Key": key}).json()["data"]["jobs"]
    assert [j["job_id"] for j in listed] == [job_id]
    assert listed[0]["succeeded"] == 7


def test_another_keys_job_is_not_found(job_server: RunningServer, client: httpx.Client) -> None:
    owner, stranger = job_server.create_key("pro"), job_server.create_key("pro")
    job_id = client.post(
        JOBS, headers={"X-API-Key": owner}, json={"images": [inline(small_image(200))]}
    ).json()["data"]["job_id"]
    for method in ("GET", "DELETE"):
        answer = client.request(method, f"{JOBS}/{job_id}", headers={"X-API-Key": stranger})
        assert answer.status_code == 404
        assert answer.json() == {
            "status": "error",
            "error": f"No such job: {job_id}. Finished jobs and their results are deleted "
            "30 days after they end.",
            "data": None,
        }
    assert client.get(JOBS, headers={"X-API-Key": stranger}).json()["data"]["jobs"] == []
    assert client.get(f"{JOBS}/{job_id}").status_code == 401


def test_over_budget_job_is_refused_before_anything_runs(
    job_server: RunningServer, client: httpx.Client
) -> None:
    key, key_id = job_server.create_key_with_id("tiny")  # 70 credits: 7 images
    images = [inline(small_image(300 + i)) for i in range(8)]
    answer = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images})
    assert answer.status_code == 403
    assert "80 credits" in answer.json()["error"]
    assert answer.headers["x-api-remaining-tokens"] == "70"
    assert balance(job_server, key_id) == (70, 0)
    assert client.get(JOBS, headers={"X-API-Key": key}).json()["data"]["jobs"] == []
    exact = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images[:7]})
    assert exact.status_code == 202
    wait_until_ended(client, key, exact.json()["data"]["job_id"])
    assert balance(job_server, key_id) == (0, 70)


def test_job_charges_raise_the_usage_warnings_a_call_would(
    job_server: RunningServer, client: httpx.Client
) -> None:
    """70 credits, 10 an image: the sixth image passes 80 % (56), the seventh 95 % (67)."""
    key, key_id = job_server.create_key_with_id("tiny")
    report = json.loads(job_server.cli("usage", "--key", key_id, "--json"))
    assert report["warnings"] == []
    images = [inline(small_image(350 + i)) for i in range(7)]
    job_id = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images}).json()["data"][
        "job_id"
    ]
    assert wait_until_ended(client, key, job_id)["succeeded"] == 7
    report = json.loads(job_server.cli("usage", "--key", key_id, "--json"))
    assert [w["threshold"] for w in report["warnings"]] == [0.8, 0.95]
    logged = [
        line for line in job_server.logs().splitlines() if f"usage warning: key {key_id}" in line
    ]
    assert len(logged) == 2, logged


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"images": []}, "images"),
        ({}, "images"),
        ({"images": ["  "]}, "images.0"),
        ({"images": ["x", ""]}, "images.1"),
        ({"images": [1]}, "images.0"),
        ({"images": ["x"] * 401}, "at most 400"),
        ({"images": ["x"], "num_captions": 11}, "num_captions"),
        ({"images": ["x"], "callback_url": "ftp://example.org/hook"}, "callback_url"),
        ({"images": ["x"], "callback_url": "http://10.1.2.3/hook"}, "private"),
        ({"images": ["x"], "lang": "xx"}, "lang"),
    ],
)
def test_bad_jobs_get_a_clear_400(
    client: httpx.Client, job_server: RunningServer, body: dict[str, object], message: str
) -> None:
    key = job_server.create_key("pro")
    answer = client.post(JOBS, headers={"X-API-Key": key}, json=body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]


def test_not_json_is_a_400(client: httpx.Client, job_server: RunningServer) -> None:
    key = job_server.create_key("pro")
    answer = client.post(JOBS, headers={"X-API-Key": key}, content=b"{nope")
    assert answer.status_code == 400
    assert answer.json()["error"] == "The request body is not valid JSON."


def test_cancel_stops_what_has_not_started_and_refunds_it(
    job_server: RunningServer, client: httpx.Client
) -> None:
    key, key_id = job_server.create_key_with_id("pro")
    before, _ = balance(job_server, key_id)
    images = [inline(small_image(1000 + i)) for i in range(300)]
    job_id = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images}).json()["data"][
        "job_id"
    ]
    cancelled = client.delete(f"{JOBS}/{job_id}", headers={"X-API-Key": key})
    assert cancelled.status_code == 200
    assert cancelled.json()["data"]["status"] == "cancelled"
    job = wait_until_ended(client, key, job_id)
    assert job["status"] == "cancelled"
    assert job["cancelled"] > 0
    assert job["succeeded"] + job["failed"] + job["cancelled"] == 300
    after, used = balance(job_server, key_id)
    assert before - after == used == 10 * job["succeeded"]
    again = client.delete(f"{JOBS}/{job_id}", headers={"X-API-Key": key})
    assert again.json()["data"] == {k: v for k, v in job.items() if k != "results"}


def _verify(secret: str, header: str, body: bytes) -> int:
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    return int(parts["t"])


def test_webhook_is_signed_and_retried_with_backoff_until_accepted(
    job_server: RunningServer, client: httpx.Client
) -> None:
    receiver = WebhookReceiver([500, 503, 404, 200])
    try:
        key = job_server.create_key("pro")
        answer = client.post(
            JOBS,
            headers={"X-API-Key": key},
            json={"images": [inline(small_image(400))], "callback_url": receiver.url},
        )
        data = answer.json()["data"]
        secret = data["callback_secret"]
        deliveries = receiver.wait_for(4)
        time.sleep(1.5)  # no fifth attempt once one was accepted
        assert len(receiver.deliveries) == 4
        job = client.get(f"{JOBS}/{data['job_id']}", headers={"X-API-Key": key}).json()["data"]
        assert (job["callback"]["state"], job["callback"]["attempts"]) == ("delivered", 4)
        for delivery in deliveries:
            signed_at = _verify(secret, delivery.headers["X-Imagecaption-Signature"], delivery.body)
            assert abs(signed_at - time.time()) < 60
            summary = json.loads(delivery.body)
            assert summary["job_id"] == data["job_id"]
            assert (summary["status"], summary["succeeded"]) == ("done", 1)
            assert "results" not in summary
            assert "callback" not in summary  # the receiver knows how its webhook fares
        gaps = [b.at - a.at for a, b in itertools.pairwise(deliveries)]
        assert gaps[0] >= 0.3  # 0.4 s, then 0.8 s, then 1.6 s
        assert gaps[1] > gaps[0] * 1.5
        assert gaps[2] > gaps[1] * 1.5
        with pytest.raises(AssertionError):  # a tampered body fails the check
            _verify(secret, deliveries[0].headers["X-Imagecaption-Signature"], b"{}")
    finally:
        receiver.close()


def test_webhook_gives_up_after_its_window_and_the_job_says_so(
    job_server: RunningServer, client: httpx.Client
) -> None:
    """A receiver that always fails: attempts after 0, 0.4, 1.2 and 2.8 s; the next would come
    after the 5 s window (job_callback_retry_seconds here, a day by default), so there is none,
    and the job's callback reads failed."""
    receiver = WebhookReceiver([500] * 100)
    try:
        key = job_server.create_key("pro")
        job_id = client.post(
            JOBS,
            headers={"X-API-Key": key},
            json={"images": [inline(small_image(450))], "callback_url": receiver.url},
        ).json()["data"]["job_id"]
        receiver.wait_for(1)
        deadline = time.monotonic() + 30
        while (job := client.get(f"{JOBS}/{job_id}", headers={"X-API-Key": key}).json()["data"])[
            "callback"
        ]["state"] != "failed":
            assert job["callback"]["state"] in ("waiting", "retrying"), job
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        time.sleep(6)  # past the window: nothing more is sent
        assert len(receiver.deliveries) == 4
        assert job["callback"] == {
            "state": "failed",
            "attempts": 4,
            "last_status": 500,
            "delivered_at": None,
        }
        listed = client.get(JOBS, headers={"X-API-Key": key}).json()["data"]["jobs"]
        assert listed[0]["callback"]["state"] == "failed"
        shown = json.loads(job_server.cli("jobs", "show", job_id))
        assert shown["callback"]["state"] == "failed"
    finally:
        receiver.close()


def test_cancelled_job_calls_its_webhook_too(
    job_server: RunningServer, client: httpx.Client
) -> None:
    receiver = WebhookReceiver()
    try:
        key = job_server.create_key("pro")
        images = [inline(small_image(2000 + i)) for i in range(100)]
        job_id = client.post(
            JOBS,
            headers={"X-API-Key": key},
            json={"images": images, "callback_url": receiver.url},
        ).json()["data"]["job_id"]
        client.delete(f"{JOBS}/{job_id}", headers={"X-API-Key": key})
        (delivery,) = receiver.wait_for(1)
        assert json.loads(delivery.body)["status"] == "cancelled"
    finally:
        receiver.close()


def test_a_second_keys_small_job_is_not_stuck_behind_a_big_one(
    job_server: RunningServer, client: httpx.Client
) -> None:
    """Keys take turns: a job submitted after another key's big one ends long before it."""
    big_key, small_key = job_server.create_key("pro"), job_server.create_key("pro")
    big = [inline(small_image(8000 + i, size=160)) for i in range(400)]
    small = [inline(small_image(9000 + i, size=160)) for i in range(8)]
    big_id = client.post(JOBS, headers={"X-API-Key": big_key}, json={"images": big}).json()["data"][
        "job_id"
    ]
    small_id = client.post(JOBS, headers={"X-API-Key": small_key}, json={"images": small}).json()[
        "data"
    ]["job_id"]
    small_job = wait_until_ended(client, small_key, small_id)
    big_job = client.get(f"{JOBS}/{big_id}?limit=1", headers={"X-API-Key": big_key}).json()["data"]
    assert small_job["succeeded"] == 8
    assert big_job["status"] == "running"
    assert big_job["succeeded"] < 200, big_job  # first in, yet far from done
    client.delete(f"{JOBS}/{big_id}", headers={"X-API-Key": big_key})

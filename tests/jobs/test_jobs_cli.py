"""Operators' ``imagecaption jobs`` commands, ``caption DIR --server`` and the backlog metric,
against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.server import RunningServer
from tests.jobs.conftest import JOBS, inline, small_image, wait_until_ended


def test_jobs_list_show_and_cancel(job_server: RunningServer) -> None:
    key, key_id = job_server.create_key_with_id("pro")
    with httpx.Client(base_url=job_server.url, timeout=60) as client:
        images = [inline(small_image(5000 + i, size=320)) for i in range(400)]
        job_id = client.post(JOBS, headers={"X-API-Key": key}, json={"images": images}).json()[
            "data"
        ]["job_id"]
        assert "is cancelled" in job_server.cli("jobs", "cancel", job_id)
        job = wait_until_ended(client, key, job_id)
        listed = json.loads(job_server.cli("jobs", "list", "--key", key_id, "--json"))
        assert [(j["job_id"], j["key_id"], j["total"]) for j in listed] == [(job_id, key_id, 400)]
        assert job_id in job_server.cli("jobs", "list")
    shown = json.loads(job_server.cli("jobs", "show", job_id))
    assert shown["status"] == "cancelled"
    assert shown["cancelled"] == job["cancelled"] > 0
    result = subprocess.run(
        [sys.executable, "-m", "imagecaption", "jobs", "show", "0" * 32],
        env={**os.environ, "IMAGECAPTION_CONFIG": str(job_server.config)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: No such job: {'0' * 32}. Finished jobs and their results are deleted "
        "30 days after they end."
    )


def test_caption_folder_on_a_server_as_a_job(job_server: RunningServer, tmp_path: Path) -> None:
    key = job_server.create_key("pro")
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        (folder / f"{index}.jpg").write_bytes(small_image(6000 + index))
    (folder / "notes.txt").write_text("not an image")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagecaption",
            "caption",
            str(folder),
            "--server",
            job_server.url,
            "--key",
            key,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 2, result.stderr  # one file failed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["file"]).name for line in lines] == ["0.jpg", "1.jpg", "2.jpg", "notes.txt"]
    assert all("cat" in line["caption"].lower() for line in lines[:3])
    assert lines[3]["caption"] is None
    assert lines[3]["error"]
    assert "4/4" in result.stderr  # the progress bar


def test_metrics_export_the_job_backlog(job_server: RunningServer) -> None:
    metrics = httpx.get(job_server.url + "/metrics", timeout=10).text
    assert "imagecaption_job_images_waiting " in metrics
    assert "imagecaption_job_images_running " in metrics

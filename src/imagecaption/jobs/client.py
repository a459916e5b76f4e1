"""Sends local files to a running service as jobs and collects their captions, for
``imagecaption caption DIR --server URL --key KEY``.

A request body is capped (twice the image limit, 10 MB by default), so a folder goes as as many
jobs as it takes, each under ``body_bytes``; they run side by side on the server.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

JOBS_PATH = "/v1/imagecaption/jobs"
# Under the server's default body limit (10 MB for JSON) with room for the JSON around images.
DEFAULT_BODY_BYTES = 9 * 1024 * 1024


class JobClientError(Exception):
    """The server refused a job or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class FileResult:
    path: Path
    caption: str | None
    error: str | None


def _data_uri(path: Path) -> str:
    return "data:image/*;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _batches(
    files: Sequence[Path], body_bytes: int, max_images: int
) -> Iterator[list[tuple[Path, str]]]:
    batch: list[tuple[Path, str]] = []
    size = 0
    for path in files:
        uri = _data_uri(path)
        if batch and (size + len(uri) > body_bytes or len(batch) >= max_images):
            yield batch
            batch, size = [], 0
        batch.append((path, uri))
        size += len(uri) + 4
    if batch:
        yield batch


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise JobClientError(f"the server answered {response.status_code}") from None
    if response.is_error or body.get("status") != "ok":
        raise JobClientError(f"the server answered {response.status_code}: {body.get('error')}")
    data: dict[str, Any] = body["data"]
    return data


def caption_with_server(
    files: Sequence[Path],
    server: str,
    key: str,
    *,
    on_progress: Callable[[int], None],
    body_bytes: int = DEFAULT_BODY_BYTES,
    max_images: int = 10_000,
    poll_seconds: float = 1.0,
) -> list[FileResult]:
    """Caption ``files`` as jobs on ``server``; ``on_progress`` gets each newly finished count."""
    headers = {"X-API-Key": key}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=120) as client:
        submitted: list[tuple[str, list[Path]]] = []
        for batch in _batches(files, body_bytes, max_images):
            try:
                answer = client.post(JOBS_PATH, json={"images": [uri for _, uri in batch]})
            except httpx.HTTPError as failed:
                raise JobClientError(f"could not reach {server}: {failed}") from None
            submitted.append((_data(answer)["job_id"], [path for path, _ in batch]))
        finished = {job_id: 0 for job_id, _ in submitted}
        ended: set[str] = set()
        while len(ended) < len(submitted):
            for job_id, _ in submitted:
                if job_id in ended:
                    continue
                job = _data(client.get(f"{JOBS_PATH}/{job_id}", params={"limit": 1}))
                done = job["succeeded"] + job["failed"] + job["cancelled"]
                on_progress(done - finished[job_id])
                finished[job_id] = done
                if job["status"] in ("done", "cancelled") and job["finished_at"]:
                    ended.add(job_id)
            if len(ended) < len(submitted):
                time.sleep(poll_seconds)
        return [result for job_id, paths in submitted for result in _results(client, job_id, paths)]


def _results(client: httpx.Client, job_id: str, paths: list[Path]) -> Iterator[FileResult]:
    by_index: dict[int, dict[str, Any]] = {}
    while len(by_index) < len(paths):
        page = _data(
            client.get(f"{JOBS_PATH}/{job_id}", params={"offset": len(by_index), "limit": 1000})
        )["results"]
        if not page:
            break
        by_index.update((item["index"], item) for item in page)
    for index, path in enumerate(paths):
        item = by_index.get(index, {"error": "cancelled"})
        yield FileResult(path, item.get("caption"), item.get("error"))

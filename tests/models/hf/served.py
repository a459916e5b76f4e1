"""A server started on a model, and its captions compared with a captioner's own, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import httpx

from imagecaption.models.base import Captioner, CaptionOptions
from tests.conftest import encode, photo
from tests.e2e.server import RunningServer, run_server

PHOTOS = ("chelsea", "coffee")


def serve_model(
    data_dir: Path,
    settings: Mapping[str, object],
    *,
    monthly_credits: int = 1000,
    launcher: str = "imagecaption",
    env: dict[str, str] | None = None,
) -> AbstractContextManager[RunningServer]:
    """The real server on the model that ``settings`` (the config's top-level keys) name, its
    caption cache off so that every call reaches the model, and a ``pro`` plan for the keys the
    tests create. ``launcher`` and ``env`` go to ``run_server``: a server without the models
    extra, or one reading its model from a hub cache."""
    lines = [
        f"{name} = {json.dumps(value)}" for name, value in {**settings, "cache_size": 0}.items()
    ]
    config = "\n".join([*lines, "", "[plans.pro]", f"monthly_credits = {monthly_credits}", ""])
    return run_server(data_dir, config, launcher=launcher, extra_env=env)


class Server(Protocol):
    """A server in a process of its own or in a container: where it answers."""

    url: str


def assert_serves_like(
    server: Server, key: str, reference: Captioner, options: Sequence[dict[str, Any]]
) -> None:
    """Each photo, sent with each set of options, is answered with the reference's caption and,
    where asked for, its alternatives in order."""
    for name in PHOTOS:
        upload = encode(photo(name), "PNG")
        for params in options:
            response = httpx.post(
                server.url + "/v1/imagecaption",
                params={k: str(v) for k, v in params.items()},
                headers={"X-API-Key": key},
                files={"image": ("photo.png", upload)},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            expected = reference.caption_batch([photo(name)], CaptionOptions(**params))[0]
            data = response.json()["data"]
            assert data["caption"] == expected.text
            if "num_captions" in params:
                assert [c["caption"] for c in data["captions"]] == [
                    c.text for c in expected.candidates
                ]

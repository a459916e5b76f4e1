"""A running server's captions compared with a captioner's own, over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from imagecaption.models.base import Captioner, CaptionOptions
from tests.conftest import encode, photo

PHOTOS = ("chelsea", "coffee")


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

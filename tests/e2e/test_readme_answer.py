"""The README's first caption is the server's real answer for the picture it names."""

from __future__ import annotations

import json
import re

import httpx

from tests.conftest import encode, photo
from tests.test_readme import section


def test_the_first_caption_in_the_readme_is_what_the_server_answers(
    client: httpx.Client, pro_key: str
) -> None:
    shown = re.search(r"^# (\{.*\})$", section("## Your first caption"), flags=re.MULTILINE)
    assert shown is not None, "the README shows the answer"
    cat = encode(photo("chelsea"))  # scikit-image's tabby cat, as the README says
    answer = client.post(
        "/v1/imagecaption", headers={"X-API-Key": pro_key}, files={"image": ("cat.jpg", cat)}
    )
    assert answer.json() == json.loads(shown.group(1))

"""Text in pictures over HTTP: quoted captions, the lines read in ``details``, the read_text
option per request and as the server's setting, from real server processes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.quality.photos import photo as corpus_photo

from tests.conftest import encode, photo
from tests.e2e.server import RunningServer, run_server
from tests.text_images import page, sign_on

ENDPOINT = "/v1/imagecaption"
BOTTLE_CAP = 'A bottle cap that reads "BAVIK".'


def post(client: httpx.Client, key: str, image: bytes, **params: object) -> httpx.Response:
    return client.post(
        ENDPOINT,
        headers={"X-API-Key": key},
        params={name: str(value).lower() for name, value in params.items()},
        files={"image": ("p.png", image)},
    )


@pytest.fixture(scope="module")
def bottle_cap() -> bytes:
    return encode(corpus_photo("fb_bottle_cap"), "PNG")


def test_the_caption_quotes_the_words_and_details_list_them_in_pixels(
    client: httpx.Client, pro_key: str
) -> None:
    picture = sign_on(photo("rocket"), "Launch Pad 39A", share=0.7)
    response = post(client, pro_key, encode(picture, "PNG"), details=True)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert '"Launch Pad 39A"' in data["caption"]
    (found,) = data["text"]
    assert found["text"] == "Launch Pad 39A"
    assert 0.8 <= found["score"] <= 1
    box = found["box"]
    assert picture.width * 0.15 < box["x"] < box["x"] + box["w"] < picture.width * 0.85
    assert picture.height * 0.3 < box["y"] < box["y"] + box["h"] < picture.height * 0.7


def test_details_list_every_line_where_the_caption_needs_only_the_first(
    client: httpx.Client, pro_key: str
) -> None:
    # Without details only the lines a caption quotes are read; a call with details reads every
    # line, even for a picture whose caption (with fewer lines read) is already cached.
    lines = [f"Line {number} of the notice is here" for number in range(1, 11)]
    notice = encode(page(lines), "PNG")
    caption = post(client, pro_key, notice).json()["data"]["caption"]
    assert caption.startswith('A page of printed text beginning "Line 1 of the notice'), caption
    data = post(client, pro_key, notice, details=True).json()["data"]
    assert data["caption"] == caption
    assert [found["text"] for found in data["text"]] == lines


def test_a_real_photo_with_a_word_on_it(
    client: httpx.Client, pro_key: str, bottle_cap: bytes
) -> None:
    data = post(client, pro_key, bottle_cap).json()["data"]
    assert data == {"caption": BOTTLE_CAP}  # the seed's shape, without details


def test_a_request_turns_reading_off(client: httpx.Client, pro_key: str, bottle_cap: bytes) -> None:
    data = post(client, pro_key, bottle_cap, details=True, read_text=False).json()["data"]
    assert data["caption"] == "A bottle cap."
    assert "text" not in data
    inline = "data:image/png;base64," + base64.b64encode(bottle_cap).decode()
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key},
        json={"image": inline, "read_text": False},
    )
    assert response.json()["data"]["caption"] == "A bottle cap."


def test_a_photo_without_text_lists_no_lines(client: httpx.Client, pro_key: str) -> None:
    data = post(client, pro_key, encode(photo("chelsea")), details=True).json()["data"]
    assert data["text"] == []
    assert '"' not in data["caption"]


def test_quotes_survive_every_format(client: httpx.Client, pro_key: str, bottle_cap: bytes) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key, "Accept": "application/xml"},
        files={"image": ("p.png", bottle_cap)},
    )
    root = ET.fromstring(response.text)
    assert root.findtext(".//caption") == BOTTLE_CAP


def test_a_bad_read_text_value_is_a_clear_400(client: httpx.Client, pro_key: str) -> None:
    response = post(client, pro_key, encode(photo("chelsea")), read_text="perhaps")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert "read_text" in body["error"]


def test_readyz_names_the_reader(client: httpx.Client) -> None:
    assert client.get("/readyz").json()["model"]["text_reader"].startswith("rapidocr ")


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose operator turned reading off by default."""
    config = "read_text = false\n[plans.pro]\nmonthly_credits = 1000000\n"
    with run_server(Path(tmp_path_factory.mktemp("quiet")), config) as running:
        yield running


def test_the_setting_is_the_default_and_a_request_overrides_it(
    quiet_server: RunningServer, bottle_cap: bytes
) -> None:
    key = quiet_server.create_key("pro")
    with httpx.Client(base_url=quiet_server.url, timeout=60) as quiet:
        assert post(quiet, key, bottle_cap).json()["data"]["caption"] == "A bottle cap."
        asked = post(quiet, key, bottle_cap, read_text=True).json()["data"]["caption"]
        assert asked == BOTTLE_CAP


def test_the_caption_command_reads_text_unless_the_setting_says_not(tmp_path: Path) -> None:
    picture = tmp_path / "cap.png"
    picture.write_bytes(encode(corpus_photo("fb_bottle_cap"), "PNG"))

    data_dir = ["--data-dir", str(tmp_path / "data")]

    def caption_command(**environment: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "imagecaption", "caption", str(picture), "--json", *data_dir],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            env=os.environ | environment,
        )
        caption: str = json.loads(result.stdout)["caption"]
        return caption

    assert caption_command() == BOTTLE_CAP
    assert caption_command(IMAGECAPTION_READ_TEXT="false") == "A bottle cap."

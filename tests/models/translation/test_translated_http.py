"""A real server with a tiny captioner and two tiny translators, over HTTP: the language of a
caption chosen by ``lang`` (query, JSON, form) or ``Accept-Language``, said by
``Content-Language``, refused with the list when not served, and kept apart in the cache."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imagecaption.models.translation.translator import Translator
from tests.conftest import encode, photo
from tests.e2e.server import RunningServer, run_server
from tests.models.hf.conftest import Folders
from tests.models.translation.conftest import Exports, Models

ENDPOINT = "/v1/imagecaption"


@pytest.fixture(scope="module")
def served(
    folders: Folders, translation_models: Models, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    config = f"""
model = "{folders("git")}"
backend = "onnx"
max_batch_wait_ms = 20

[translation_models]
de = "{translation_models("marian")}"
fr = "{translation_models("nllb")}"

[plans.pro]
monthly_credits = 1000000
"""
    with run_server(tmp_path_factory.mktemp("translated"), config) as server:
        yield server


@pytest.fixture(scope="module")
def key(served: RunningServer) -> str:
    return served.create_key("pro")


def call(
    server: RunningServer,
    key: str,
    image: bytes,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.post(
        server.url + ENDPOINT,
        params=params,
        headers={"X-API-Key": key, **(headers or {})},
        files={"image": ("photo.png", image)},
        timeout=60,
    )


def written(translator: Translator, language: str, english: str) -> str:
    """What the server should answer: the English caption translated, capitalised."""
    text = translator.translate([english], translator.target(language))[0]
    return text[:1].upper() + text[1:]


def test_readyz_and_models_list_name_the_languages(served: RunningServer) -> None:
    assert httpx.get(served.url + "/readyz").json()["model"]["languages"] == ["en", "de", "fr"]
    listing = json.loads(served.cli("models", "list", "--json"))
    assert listing["languages"] == ["en", "de", "fr"]


def test_lang_in_the_query_json_and_form_gives_that_language(
    served: RunningServer, key: str, translation_exports: Exports
) -> None:
    image = encode(photo("chelsea"), "PNG")
    english = call(served, key, image)
    assert english.status_code == 200, english.text
    assert english.headers["content-language"] == "en"
    caption = english.json()["data"]["caption"]
    german = written(Translator(translation_exports("marian", True), 1), "de", caption)
    french = written(Translator(translation_exports("nllb", True), 1), "fr", caption)
    assert german
    assert french
    assert len({caption, german, french}) == 3

    by_query = call(served, key, image, params={"lang": "de"})
    assert by_query.headers["content-language"] == "de"
    assert by_query.json()["data"]["caption"] == german

    inline = "data:image/png;base64," + base64.b64encode(image).decode()
    by_json = httpx.post(
        served.url + ENDPOINT,
        headers={"X-API-Key": key},
        json={"image": inline, "lang": "fr"},
        timeout=60,
    )
    assert by_json.headers["content-language"] == "fr"
    assert by_json.json()["data"]["caption"] == french

    by_form = httpx.post(
        served.url + ENDPOINT,
        headers={"X-API-Key": key},
        files={"image": ("photo.png", image)},
        data={"lang": "de-AT"},  # a region not served: its language is
        timeout=60,
    )
    assert by_form.headers["content-language"] == "de"
    assert by_form.json()["data"]["caption"] == german


@pytest.mark.parametrize(
    ("header", "language"),
    [("fr-CA, de;q=0.9", "fr"), ("ja, de;q=0.5", "de"), ("ja, zh", "en"), ("x;;q=", "en")],
)
def test_accept_language_picks_the_language_or_english(
    served: RunningServer, key: str, header: str, language: str
) -> None:
    image = encode(photo("coffee"), "PNG")
    answer = call(served, key, image, headers={"Accept-Language": header})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-language"] == language
    named = call(served, key, image, params={"lang": language})
    assert answer.json()["data"]["caption"] == named.json()["data"]["caption"]


@pytest.mark.parametrize("lang", ["ja", "pt-BR", "es"])
def test_a_language_not_served_is_a_400_listing_those_served(
    served: RunningServer, key: str, lang: str
) -> None:
    answer = call(served, key, encode(photo("coffee"), "PNG"), params={"lang": lang})
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error"
    assert body["data"] is None
    assert f"{lang!r}" in body["error"]
    assert "en, de, fr" in body["error"]
    assert "content-language" not in answer.headers


def test_the_cache_keeps_each_language_apart(served: RunningServer, key: str) -> None:
    image = encode(photo("astronaut"), "PNG")
    details = {"details": "true"}
    english = call(served, key, image, params=details).json()["data"]
    german = call(served, key, image, params={**details, "lang": "de"}).json()["data"]
    assert german["cached"] is False, "a caption in another language is not the cached one"
    assert german["caption"] != english["caption"]
    again = call(served, key, image, params={**details, "lang": "de"}).json()["data"]
    assert (again["cached"], again["caption"]) == (True, german["caption"])
    english_again = call(served, key, image, params=details).json()["data"]
    assert (english_again["cached"], english_again["caption"]) == (True, english["caption"])


def test_alternatives_and_max_length_are_in_the_language(
    served: RunningServer, key: str, translation_exports: Exports
) -> None:
    image = encode(photo("grace_hopper"), "PNG")
    english = call(served, key, image, params={"num_captions": "2"}).json()["data"]
    german = call(served, key, image, params={"num_captions": "2", "lang": "de"}).json()["data"]
    translator = Translator(translation_exports("marian", True), 1)
    expected = list(
        dict.fromkeys(written(translator, "de", c["caption"]) for c in english["captions"])
    )
    assert [c["caption"] for c in german["captions"]] == expected
    assert [c["score"] for c in german["captions"]] == [c["score"] for c in english["captions"]][
        : len(expected)
    ]
    # The whole caption is translated, then cut: a cut English sentence translates badly.
    whole = call(served, key, image, params={"lang": "de"}).json()["data"]
    short = call(served, key, image, params={"max_length": "2", "lang": "de"}).json()["data"]
    assert short["caption"].split() == whole["caption"].split()[:2]


def test_the_served_folder_names_no_path(served: RunningServer) -> None:
    """The exported translation cache lives in the data directory, never in the answer."""
    ready = httpx.get(served.url + "/readyz").text
    assert str(Path(served.data_dir)) not in ready

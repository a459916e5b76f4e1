"""The offline captioner's languages over HTTP: ``lang`` and ``Accept-Language`` reach the
composer, the answer says its language, and what it cannot serve is refused with the list."""

from __future__ import annotations

import httpx
from benchmarks.quality.photos import photo as corpus_photo

from tests.conftest import encode

ENDPOINT = "/v1/imagecaption"
OFFERED = {"en", "de", "es", "fr", "it", "pt"}
# How each language counts the boxes (the English test counts them the same way).
BIRDS = {
    "de": {2: "Zwei Vögel.", 3: "Drei Vögel.", 4: "Vier Vögel."},
    "fr": {2: "Deux oiseaux.", 3: "Trois oiseaux.", 4: "Quatre oiseaux."},
    "it": {2: "Due uccelli.", 3: "Tre uccelli.", 4: "Quattro uccelli."},
}


def post(
    client: httpx.Client,
    key: str,
    image: bytes,
    headers: dict[str, str] | None = None,
    **params: object,
) -> httpx.Response:
    return client.post(
        ENDPOINT,
        headers={"X-API-Key": key, **(headers or {})},
        params={name: str(value).lower() for name, value in params.items()},
        files={"image": ("p.png", image)},
    )


def test_readyz_lists_the_offline_languages(client: httpx.Client) -> None:
    model = client.get("/readyz").json()["model"]
    assert set(model["languages"]) == OFFERED


def test_lang_composes_the_caption_alternatives_and_tags_in_that_language(
    client: httpx.Client, pro_key: str
) -> None:
    image = encode(corpus_photo("fb_ibises"), "PNG")  # three ibises on a wire
    english = post(client, pro_key, image, details=True, num_captions=3)
    assert english.headers["content-language"] == "en"
    birds = [found for found in english.json()["data"]["objects"] if found["label"] == "bird"]
    for lang, counted in BIRDS.items():
        answer = post(client, pro_key, image, details=True, num_captions=3, lang=lang)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-language"] == lang
        data = answer.json()["data"]
        assert data["caption"] == counted[len(birds)]
        assert data["captions"][0]["caption"] == data["caption"]
        english_tags = {tag["name"] for tag in english.json()["data"]["tags"]}
        assert english_tags.isdisjoint(tag["name"] for tag in data["tags"]), data["tags"]
        assert [o["label"] for o in data["objects"]] == [
            o["label"] for o in english.json()["data"]["objects"]
        ]  # detected objects keep their English labels, as the hosted APIs do


def test_accept_language_picks_a_served_language_and_the_cache_keeps_them_apart(
    client: httpx.Client, pro_key: str
) -> None:
    image = encode(corpus_photo("fb_ibises"), "PNG")
    german = post(client, pro_key, image, headers={"Accept-Language": "de-CH, fr;q=0.8"})
    assert german.headers["content-language"] == "de"
    french = post(client, pro_key, image, headers={"Accept-Language": "ja, fr-CA;q=0.9"})
    assert french.headers["content-language"] == "fr"
    assert german.json()["data"]["caption"] != french.json()["data"]["caption"]
    unknown = post(client, pro_key, image, headers={"Accept-Language": "ja, zh-TW;q=0.5"})
    assert unknown.status_code == 200
    assert unknown.headers["content-language"] == "en"


def test_a_language_it_cannot_write_is_a_400_listing_those_it_can(
    client: httpx.Client, pro_key: str
) -> None:
    answer = post(client, pro_key, encode(corpus_photo("fb_ibises"), "PNG"), lang="ja")
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error"
    for lang in OFFERED:
        assert lang in body["error"]

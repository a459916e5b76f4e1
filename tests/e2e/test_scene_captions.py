"""The offline captioner's scene descriptions over HTTP: objects in ``details``, counts and
alternatives, in every response format, from a real server."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import httpx
import pytest
import yaml
from benchmarks.quality.photos import photo as corpus_photo
from PIL import Image

from tests.conftest import encode

ENDPOINT = "/v1/imagecaption"
COUNTS = {2: "Two", 3: "Three", 4: "Four"}


def post(client: httpx.Client, key: str, image: bytes, **params: object) -> httpx.Response:
    return client.post(
        ENDPOINT,
        headers={"X-API-Key": key},
        params={name: str(value).lower() for name, value in params.items()},
        files={"image": ("p.jpg", image)},
    )


def test_details_list_the_objects_with_boxes_in_pixels(client: httpx.Client, pro_key: str) -> None:
    picture = corpus_photo("fb_ibises")  # three ibises on a wire
    response = post(client, pro_key, encode(picture, "PNG"), details=True)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    birds = [found for found in data["objects"] if found["label"] == "bird"]
    assert data["caption"] == f"{COUNTS[len(birds)]} birds."  # the caption counts the boxes
    for bird in birds:
        assert 0 < bird["score"] <= 1
        box = bird["box"]
        assert set(box) == {"x", "y", "w", "h"}
        assert 0 <= box["x"] < box["x"] + box["w"] <= picture.width
        assert 0 <= box["y"] < box["y"] + box["h"] <= picture.height
    assert data["model"] == "offline-scene"


def test_boxes_follow_the_exif_rotation(client: httpx.Client, pro_key: str) -> None:
    """A photo stored sideways with an EXIF orientation is boxed as the user sees it."""
    upright = corpus_photo("fb_ibises")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, "PNG", exif=exif)
    data = post(client, pro_key, buffer.getvalue(), details=True).json()["data"]
    direct = post(client, pro_key, encode(upright, "PNG"), details=True).json()["data"]
    assert data["caption"] == direct["caption"]
    assert data["objects"] == direct["objects"]
    for found in data["objects"]:
        box = found["box"]
        assert box["x"] + box["w"] <= upright.width
        assert box["y"] + box["h"] <= upright.height


def test_without_details_the_answer_is_the_seeds_shape(client: httpx.Client, pro_key: str) -> None:
    data = post(client, pro_key, encode(corpus_photo("fb_ibises"))).json()["data"]
    assert list(data) == ["caption"]


def test_alternatives_differ_in_what_they_say(client: httpx.Client, pro_key: str) -> None:
    response = post(client, pro_key, encode(corpus_photo("caer_drone_pilot")), num_captions=4)
    captions = [item["caption"] for item in response.json()["data"]["captions"]]
    assert 2 <= len(captions) <= 4
    assert len({text.split()[1] for text in captions}) >= 2, captions  # not one noun reworded


@pytest.mark.parametrize("accept", ["application/xml", "application/yaml", "text/csv"])
def test_objects_and_tags_render_in_every_format(
    client: httpx.Client, pro_key: str, accept: str
) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key, "Accept": accept},
        params={"details": "true"},
        files={"image": ("p.png", encode(corpus_photo("fb_ibises"), "PNG"))},
    )
    assert response.status_code == 200
    text = response.text
    if accept == "application/xml":
        tags = ET.fromstring(text).find("data/tags")
        assert tags is not None
        assert "bird" in [item.findtext("name") for item in tags]
    elif accept == "application/yaml":
        data = yaml.safe_load(text)["data"]
        assert len(data["objects"]) >= 2
        assert "bird" in [tag["name"] for tag in data["tags"]]
    else:
        rows = dict(csv.reader(io.StringIO(text)))
        assert "bird" in rows["objects"]
        assert "bird" in [tag["name"] for tag in json.loads(rows["tags"])]


def test_details_tag_every_thing_found(client: httpx.Client, pro_key: str) -> None:
    """``tags`` list the things, settings and activities found, likeliest first, each once,
    with every detected object among them under the caption's name for it."""
    response = post(client, pro_key, encode(corpus_photo("fb_dog_on_leash")), details=True)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    tags = data["tags"]
    names = [tag["name"] for tag in tags]
    assert len(names) == len(set(names))
    assert all(set(tag) == {"name", "score"} and 0 < tag["score"] <= 1 for tag in tags)
    scores = [tag["score"] for tag in tags]
    assert scores == sorted(scores, reverse=True)
    assert {found["label"] for found in data["objects"]} <= set(names)
    assert "dog" in names  # the detector's word beside the classifier's breed
    without = post(client, pro_key, encode(corpus_photo("fb_dog_on_leash"))).json()["data"]
    assert "tags" not in without


def test_the_main_caption_is_scored_highest(client: httpx.Client, pro_key: str) -> None:
    """The breed the caption names was once scored below the alternative "A dog." (0.68
    against 0.97): every score now says how likely its sentence is right, the caption's the
    highest."""
    response = post(client, pro_key, encode(corpus_photo("fb_dog_on_leash")), num_captions=5)
    data = response.json()["data"]
    captions = data["captions"]
    assert captions[0]["caption"] == data["caption"]
    scores = [item["score"] for item in captions]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < value < 1 for value in scores)

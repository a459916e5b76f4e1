"""The endpoint as API.md describes it, over HTTP against a real server process."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import httpx
import pytest
import yaml
from PIL import Image

from tests.conftest import encode, photo
from tests.e2e.conftest import ImageSite

ENDPOINT = "/v1/imagecaption"
SENTENCE = re.compile(r"^[A-Z].*\.$")


def assert_caption(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["error"] is None
    assert list(body["data"]) == ["caption"], "the default response must be exactly the seed's"
    caption: str = body["data"]["caption"]
    assert SENTENCE.match(caption), caption
    if words:
        assert any(word in caption.lower() for word in words), caption
    return caption


def test_multipart_upload_like_the_seed(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT, headers={"X-API-Key": pro_key}, files={"image": ("cat.jpg", photos["cat"])}
    )
    assert_caption(response, "cat", "kitten")


def test_header_name_is_case_insensitive_and_auth_mode_ignored(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT,
        headers={"x-api-key": pro_key, "auth-mode": "npm-package"},
        files={"image": ("x", photos["cat"])},
    )
    assert_caption(response, "cat", "kitten")


def test_json_with_bare_base64(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    value = base64.b64encode(photos["coffee"]).decode()
    response = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json={"image": value})
    assert_caption(response, "coffee", "espresso", "cup", "mug")


def test_json_with_data_uri(client: httpx.Client, pro_key: str, photos: dict[str, bytes]) -> None:
    value = "data:image/jpeg;base64," + base64.b64encode(photos["cat"]).decode()
    response = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json={"image": value})
    assert_caption(response, "cat", "kitten")


def test_json_with_url_in_image_and_in_url(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes], image_site: ImageSite
) -> None:
    url = image_site.add("/coffee.jpg", photos["coffee"])
    for body in ({"image": url}, {"url": url}):
        response = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json=body)
        assert_caption(response, "coffee", "espresso", "cup", "mug")


def test_form_urlencoded_url(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes], image_site: ImageSite
) -> None:
    url = image_site.add("/cat-form.jpg", photos["cat"])
    response = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, data={"image": url})
    assert_caption(response, "cat", "kitten")


def test_url_through_redirects(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes], image_site: ImageSite
) -> None:
    final = image_site.add("/final.jpg", photos["cat"])
    hop = final
    for number in range(3):
        hop = image_site.redirect(f"/hop{number}", hop)
    assert_caption(client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json={"url": hop}), "cat")
    too_many = image_site.redirect("/hop3", hop)
    response = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json={"url": too_many})
    assert response.status_code == 400
    assert "redirect" in response.json()["error"].lower()


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "BMP"])
def test_other_formats(client: httpx.Client, pro_key: str, fmt: str) -> None:
    image = photo("chelsea")
    response = client.post(
        ENDPOINT, headers={"X-API-Key": pro_key}, files={"image": ("a.jpg", encode(image, fmt))}
    )
    assert_caption(response, "cat", "kitten")


def test_type_is_decided_by_bytes_not_name(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key},
        files={"image": ("document.pdf", photos["cat"], "application/pdf")},
    )
    assert_caption(response, "cat")


def test_xml_exactly_the_seed_shape(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key, "Accept": "application/xml"},
        files={"image": ("c.jpg", photos["cat"])},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <status>ok</status>'
    )
    assert (
        '<error xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
        in response.text
    )
    root = ET.fromstring(response.text)
    assert root.findtext("status") == "ok"
    assert "cat" in (root.findtext("data/caption") or "").lower()


def test_xml_error_uses_nil_data(client: httpx.Client) -> None:
    response = client.post(ENDPOINT, headers={"Accept": "application/xml"})
    assert response.status_code == 401
    root = ET.fromstring(response.text)
    assert root.findtext("error") == "API key is required"
    assert root.find("data").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"


@pytest.mark.parametrize("accept", ["application/yaml", "text/yaml", "application/x-yaml"])
def test_yaml(client: httpx.Client, pro_key: str, photos: dict[str, bytes], accept: str) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key, "Accept": accept},
        files={"image": ("c", photos["cat"])},
    )
    assert response.status_code == 200
    body = yaml.safe_load(response.text)
    assert body["status"] == "ok"
    assert body["error"] is None
    assert "cat" in body["data"]["caption"].lower()
    assert response.text.startswith("status: ok\nerror: null\ndata:\n  caption: ")


def test_csv(client: httpx.Client, pro_key: str, photos: dict[str, bytes]) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key, "Accept": "text/csv"},
        files={"image": ("c", photos["cat"])},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["key", "value"]
    assert rows[1] == ["status", "ok"], "the status row, as on errors"
    assert rows[2][0] == "caption"
    assert "cat" in rows[2][1].lower()


def test_csv_error(client: httpx.Client) -> None:
    response = client.post(ENDPOINT, headers={"Accept": "text/csv", "X-API-Key": "nope"})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert response.status_code == 401
    assert rows == [["key", "value"], ["status", "error"], ["error", "Invalid API key"]]


@pytest.mark.parametrize("accept", ["*/*", "text/html", "application/json", ""])
def test_json_is_the_default(client: httpx.Client, accept: str) -> None:
    response = client.post(ENDPOINT, headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "error", "error": "API key is required", "data": None}


def test_missing_and_invalid_key(client: httpx.Client, photos: dict[str, bytes]) -> None:
    missing = client.post(ENDPOINT, files={"image": ("c", photos["cat"])})
    assert missing.status_code == 401
    assert missing.json()["error"] == "API key is required"
    invalid = client.post(
        ENDPOINT, headers={"X-API-Key": "a" * 40}, files={"image": ("c", photos["cat"])}
    )
    assert invalid.status_code == 401
    assert invalid.json()["error"] == "Invalid API key"


def test_request_id_echoed_or_generated(client: httpx.Client) -> None:
    echoed = client.post(ENDPOINT, headers={"X-Request-ID": "my-trace-123"})
    assert echoed.headers["x-request-id"] == "my-trace-123"
    generated = client.post(ENDPOINT, headers={"X-Request-ID": "bad id\twith spaces <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert client.get("/healthz").headers["x-request-id"]


def test_cors_preflight_and_exposed_headers(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    preflight = client.options(
        ENDPOINT,
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://example.org")
    assert "post" in preflight.headers["access-control-allow-methods"].lower()
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key, "Origin": "https://example.org"},
        files={"image": ("c", photos["cat"])},
    )
    assert response.headers["access-control-allow-origin"] == "*"
    exposed = response.headers["access-control-expose-headers"].lower()
    for name in ("x-request-id", "x-ratelimit-remaining", "x-api-remaining-tokens"):
        assert name in exposed


def test_rate_limit_and_credit_headers(
    client: httpx.Client, server, photos: dict[str, bytes]
) -> None:
    key = server.create_key("free")
    response = client.post(
        ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", photos["cat"])}
    )
    assert response.status_code == 200
    h = response.headers
    assert h["X-RateLimit-Limit"] == "5"
    assert h["x-rate-limit-limit"] == "5"
    assert h["X-RateLimit-Remaining"] == "4"
    assert h["x-rate-limit-remaining"] == "4"
    assert int(h["X-RateLimit-Reset"]) == int(h["x-rate-limit-reset"]) > 1_700_000_000
    assert h["x-api-tokens-used"] == "10"
    assert h["x-api-max-tokens"] == "1500"
    assert h["x-api-remaining-tokens"] == "1490"
    assert h["x-api-current-plan"] == "free"
    assert re.match(r"\d{4}-\d{2}-\d{2}", h["x-api-renewal"])
    # An authenticated error carries them too, and costs nothing.
    failed = client.post(ENDPOINT, headers={"X-API-Key": key}, files={"image": ("c", b"garbage")})
    assert failed.status_code == 400
    assert failed.headers["x-api-remaining-tokens"] == "1490"
    assert failed.headers["X-RateLimit-Remaining"] == "3"


def test_unknown_route_and_wrong_method_use_the_envelope(client: httpx.Client) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["status"] == "error"
    wrong = client.get(ENDPOINT)
    assert wrong.status_code == 405
    assert wrong.json() == {"status": "error", "error": "Method not allowed.", "data": None}


def test_invalid_options_are_400(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT + "?num_captions=banana",
        headers={"X-API-Key": pro_key},
        files={"image": ("c", photos["cat"])},
    )
    assert response.status_code == 400
    assert "num_captions" in response.json()["error"]


def test_opt_in_candidates_and_details(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key},
        json={
            "image": base64.b64encode(photos["cat"]).decode(),
            "num_captions": 3,
            "details": True,
        },
    )
    data = response.json()["data"]
    assert len(data["captions"]) == 3
    assert all(0 < c["score"] <= 1 for c in data["captions"])
    assert len({c["caption"] for c in data["captions"]}) == 3, "candidates are distinct sentences"
    assert data["captions"][0]["caption"] == data["caption"]
    assert data["model"]
    assert data["timing_ms"]["total"] > 0


def test_wrong_content_type_and_bad_json(client: httpx.Client, pro_key: str) -> None:
    wrong = client.post(
        ENDPOINT, headers={"X-API-Key": pro_key, "Content-Type": "text/plain"}, content=b"hi"
    )
    assert wrong.status_code == 400
    bad = client.post(
        ENDPOINT, headers={"X-API-Key": pro_key, "Content-Type": "application/json"}, content=b"{"
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "The request body is not valid JSON."
    empty = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json={})
    assert empty.status_code == 400
    assert "No image" in empty.json()["error"]
    listed = client.post(ENDPOINT, headers={"X-API-Key": pro_key}, json=["x"])
    assert listed.status_code == 400


def test_health_ready_metrics_docs(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    client.post(ENDPOINT, headers={"X-API-Key": pro_key}, files={"image": ("c", photos["cat"])})
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    metrics = client.get("/metrics").text
    for name in (
        'imagecaption_requests_total{route="/v1/imagecaption",status="200"}',
        "imagecaption_request_duration_seconds_bucket",
        "imagecaption_queue_depth",
        "imagecaption_batch_size_bucket",
        "imagecaption_model_load_seconds",
        "imagecaption_cache_hits_total",
    ):
        assert name in metrics
    spec = client.get("/openapi.json").json()
    assert "/v1/imagecaption" in spec["paths"]
    assert (
        "multipart/form-data" in spec["paths"]["/v1/imagecaption"]["post"]["requestBody"]["content"]
    )
    assert client.get("/docs").status_code == 200
    stats = client.get("/v1/stats").json()
    assert stats["window"] >= 1
    assert set(stats["latency_ms"]) == {"avg", "p50", "p75", "p90", "p99"}


OPTIONS = {
    "num_captions": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
    "max_length": {"type": "integer", "minimum": 1, "maximum": 200},
    "details": {"type": "boolean", "default": False},
    "read_text": {"type": "boolean"},
    "lang": {"type": "string", "minLength": 1, "maxLength": 35, "pattern": "^[A-Za-z0-9_-]+$"},
}


def test_the_options_are_in_the_openapi_document(client: httpx.Client) -> None:
    """Each option with its type and limits: as a query parameter and in every kind of body."""
    operation = client.get("/openapi.json").json()["paths"][ENDPOINT]["post"]
    query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
    bodies = operation["requestBody"]["content"]
    for name, expected in OPTIONS.items():
        assert query[name]["schema"] == expected, name
        assert query[name]["description"], name
        for media_type in ("multipart/form-data", "application/json"):
            field = bodies[media_type]["schema"]["properties"][name]
            assert {k: v for k, v in field.items() if k != "description"} == expected
        form = bodies["application/x-www-form-urlencoded"]["schema"]["properties"][name]
        assert form["type"] == expected["type"]


@pytest.mark.parametrize("where", ["query", "form", "json"])
def test_the_documented_limits_are_the_ones_enforced(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes], where: str
) -> None:
    too_many = {"num_captions": "11"}
    headers = {"X-API-Key": pro_key}
    if where == "query":
        answer = client.post(
            ENDPOINT, headers=headers, params=too_many, files={"image": ("c", photos["cat"])}
        )
    elif where == "form":
        answer = client.post(
            ENDPOINT, headers=headers, data=too_many, files={"image": ("c", photos["cat"])}
        )
    else:
        image = base64.b64encode(photos["cat"]).decode()
        answer = client.post(ENDPOINT, headers=headers, json={"image": image, "num_captions": 11})
    assert answer.status_code == 400
    assert "num_captions" in answer.json()["error"]


def test_a_wrong_option_in_the_query_is_refused_even_when_the_body_has_it_right(
    client: httpx.Client, pro_key: str, photos: dict[str, bytes]
) -> None:
    answer = client.post(
        ENDPOINT,
        headers={"X-API-Key": pro_key},
        params={"max_length": "-5"},
        data={"max_length": "3"},
        files={"image": ("c", photos["cat"])},
    )
    assert answer.status_code == 400
    assert "max_length" in answer.json()["error"]


def test_same_image_is_served_from_cache(client: httpx.Client, pro_key: str) -> None:
    image = encode(photo("rocket"))
    first = client.post(
        ENDPOINT + "?details=true", headers={"X-API-Key": pro_key}, files={"image": ("r", image)}
    )
    second = client.post(
        ENDPOINT + "?details=true", headers={"X-API-Key": pro_key}, files={"image": ("r", image)}
    )
    assert first.json()["data"]["cached"] is False
    assert second.json()["data"]["cached"] is True
    assert first.json()["data"]["caption"] == second.json()["data"]["caption"]


def test_exif_orientation_is_applied(client: httpx.Client, pro_key: str) -> None:
    """A cat stored sideways with an EXIF rotation is still a cat."""
    cat = photo("chelsea").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left; viewers turn it right
    upright = encode(cat, "JPEG", exif=exif.tobytes())
    response = client.post(
        ENDPOINT, headers={"X-API-Key": pro_key}, files={"image": ("c", upright)}
    )
    assert_caption(response, "cat", "kitten")


def test_response_is_json_serialisable_everywhere(client: httpx.Client) -> None:
    response = client.post(ENDPOINT)
    json.loads(response.text)

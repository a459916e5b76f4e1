"""The playground, the dashboard and the operator pages, driven in a real Chromium.

Every test gets a fresh browser profile; the page fixture fails a test on any script error, any
Content-Security-Policy violation and any dialog (an ``alert`` would mean injected script ran).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from imagecaption.api.envelope import CSV, JSON, XML, YAML, error, ok, render
from imagecaption.images import payload_too_large
from imagecaption.images.limits import format_size
from imagecaption.web.pages import KEY_REVOKED
from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer
from tests.web.actions import (
    admin_sign_in,
    caption_file,
    create_key_on_operator_page,
    credits_left,
    key_sign_in,
)
from tests.web.conftest import DESKTOP, MAX_UPLOAD_BYTES, screenshot

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
KEY_NAME = "Ada's laptop"
COST = 10


@pytest.fixture(scope="module")
def operator_key(browser: Browser, web_server: RunningServer) -> Iterator[tuple[str, str, str]]:
    """A key created on the operator page: (secret, key id, what the copy button copied)."""
    context = browser.new_context(base_url=web_server.url, viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto("/admin")
    screenshot(page, "operator-signin")
    admin_sign_in(page)
    secret = create_key_on_operator_page(page, KEY_NAME)
    key_id = secret.split("-")[1]
    page.get_by_role("button", name="Copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    screenshot(page, "operator")
    yield secret, key_id, copied
    context.close()


def test_operator_creates_a_key_that_is_shown_once(
    page: Page, operator_key: tuple[str, str, str]
) -> None:
    secret, key_id, copied = operator_key
    assert secret.startswith(f"ick-{key_id}-")
    assert copied == secret, "the copy button copies the key"
    admin_sign_in(page)
    expect(page.locator(f"#key-{key_id} .key-name")).to_have_text(KEY_NAME)
    assert secret not in page.content(), "shown once, at creation only"


def test_key_names_are_shown_as_text(page: Page) -> None:
    """The name is whatever the operator typed; markup in it must stay text on every page."""
    admin_sign_in(page)
    secret = create_key_on_operator_page(page, HOSTILE_NAME)
    expect(page.locator("#created .key-name")).to_have_text(HOSTILE_NAME)
    expect(page.locator(f"#key-{secret.split('-')[1]} .key-name")).to_have_text(HOSTILE_NAME)
    key_sign_in(page, secret)
    expect(page.locator("#who .key-name")).to_have_text(HOSTILE_NAME)
    page.goto("/")
    expect(page.locator("#who .key-name")).to_have_text(HOSTILE_NAME)
    assert page.locator("img[src='x']").count() == 0


def test_operator_sees_the_model_and_the_queue(page: Page) -> None:
    admin_sign_in(page)
    expect(page.locator("#model-name")).not_to_be_empty()
    expect(page.locator("#queue-depth")).to_have_text("0")
    expect(page.locator("#engine-state")).to_have_text("ready")


def test_operator_adds_credits_and_changes_the_plan(page: Page, web_server: RunningServer) -> None:
    _, key_id = web_server.create_key_with_id("free")
    admin_sign_in(page)
    row = page.locator(f"#key-{key_id}")
    row.get_by_label(f"Credits to add to key {key_id}").fill("250")
    row.get_by_role("button", name="Add credits").click()
    expect(page.locator("#flash")).to_contain_text(f"Added 250 credits to key {key_id}")
    expect(row.locator("td[data-label='Credits left']")).to_have_text("1,750")
    row.get_by_label(f"New plan for key {key_id}").select_option("pro")
    row.get_by_role("button", name="Change plan").click()
    expect(page.locator("#flash")).to_contain_text(f"Key {key_id} is now on the pro plan")
    expect(row.locator("td[data-label='Plan']")).to_have_text("pro")
    # An upgrade applies at once: the difference in monthly credits (10,000,000 - 1,000).
    expect(page.locator("#flash")).to_contain_text("9,999,000 credits were added to this period")
    expect(row.locator("td[data-label='Credits left']")).to_have_text("10,000,750")
    row.get_by_label(f"New plan for key {key_id}").select_option("warn")
    row.get_by_role("button", name="Change plan").click()
    expect(page.locator("#flash")).to_contain_text("this period's credits stay as they were")
    expect(page.locator("#flash")).to_contain_text("it gets 100 a month")
    expect(row.locator("td[data-label='Credits left']")).to_have_text("10,000,750")


def test_sign_in_shows_plan_credits_and_renewal(
    page: Page, operator_key: tuple[str, str, str]
) -> None:
    page.goto("/signin")
    screenshot(page, "signin")
    key_sign_in(page, operator_key[0])
    expect(page.locator("#plan")).to_have_text("pro")
    expect(page.locator("#credits-left")).to_have_text("10,000,000")
    expect(page.locator("#renews")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    expect(page.locator("#who .key-name")).to_have_text(KEY_NAME)
    for storage in ("localStorage", "sessionStorage"):
        assert page.evaluate(f"window.{storage}.length") == 0
    assert all(operator_key[0] not in c["value"] for c in page.context.cookies())


def test_caption_a_file_and_see_the_credits_drop(
    page: Page, operator_key: tuple[str, str, str], cat_photo: bytes
) -> None:
    key_sign_in(page, operator_key[0])
    before = credits_left(page)
    caption_file(page, "cat.jpg", cat_photo)
    expect(page.locator("#status")).to_have_text("200 OK")
    expect(page.locator("#caption")).not_to_be_empty()
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#credits")).to_have_text(f"{before - COST:,}")
    expect(page.locator("#elapsed")).to_have_text(re.compile(r"^\d+ ms$"))
    request_id = page.locator("#request-id").inner_text()
    raw = json.loads(page.locator("#raw").inner_text())
    assert raw == {
        "status": "ok",
        "error": None,
        "data": {"caption": page.locator("#caption").inner_text()},
    }
    curl = page.locator("#snippet-curl").inner_text()
    assert f"ick-{operator_key[1]}-****" in curl
    assert operator_key[0] not in curl
    assert "image=@cat.jpg" in curl
    screenshot(page, "playground")

    assert credits_left(page) == before - COST
    latest = page.locator("#recent-calls tbody tr").first
    expect(latest.locator("td[data-label='Status']")).to_have_text("200")
    expect(latest.locator("td[data-label='Request id']")).to_have_text(request_id)
    expect(page.locator("#chart-calls rect.bar.ok")).to_have_count(1)
    screenshot(page, "dashboard")


@pytest.mark.parametrize(
    ("media_type", "marker"),
    [("application/xml", "<?xml"), ("application/yaml", "status: ok"), ("text/csv", "key,value")],
)
def test_caption_a_url_in_each_format(
    page: Page,
    operator_key: tuple[str, str, str],
    image_site: ImageSite,
    cat_photo: bytes,
    media_type: str,
    marker: str,
) -> None:
    url = image_site.add(f"/cat.jpg?{media_type}", cat_photo)
    key_sign_in(page, operator_key[0])
    page.goto("/")
    page.get_by_role("radio", name="Use an image URL").check()
    page.get_by_label("Image URL", exact=True).fill(url)
    page.get_by_label("Response format").select_option(media_type)
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("200 OK")
    expect(page.locator("#raw")).to_contain_text(marker)
    caption = page.locator("#caption").inner_text()
    assert caption
    assert caption in page.locator("#raw").inner_text()
    assert url in page.locator("#snippet-python").inner_text()


def test_a_too_large_file_is_refused_before_uploading_with_the_api_message(
    page: Page, operator_key: tuple[str, str, str]
) -> None:
    """The page knows the limit: it says what the API would say, without sending 1.5 MB."""
    key_sign_in(page, operator_key[0])
    page.goto("/")
    limit = format_size(MAX_UPLOAD_BYTES)
    expect(page.locator("#file-hint")).to_contain_text(f"up to {limit}.")
    sent: list[str] = []
    page.on(
        "request", lambda request: sent.append(request.url) if request.method == "POST" else None
    )
    page.get_by_label("Choose an image").set_input_files(
        {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": os.urandom(MAX_UPLOAD_BYTES + 1)}
    )
    expect(page.locator("#file-hint")).to_contain_text(f"larger than the {limit} limit")
    page.get_by_role("button", name="Caption").click()
    message = payload_too_large(MAX_UPLOAD_BYTES).message
    assert limit in message, "one unit on the page and in the API's message"
    expect(page.locator("#error")).to_have_text(message)
    expect(page.locator("#status")).to_have_text("Not sent")
    expect(page.locator("#caption")).to_be_hidden()
    assert sent == [], "nothing was uploaded"


def test_wrong_type_is_refused_with_the_api_message(
    page: Page, operator_key: tuple[str, str, str]
) -> None:
    key_sign_in(page, operator_key[0])
    caption_file(page, "notes.jpg", b"just some text, not an image", "image/jpeg")
    expect(page.locator("#status")).to_have_text("400 Bad Request")
    expect(page.locator("#error")).to_contain_text("JPEG")


def test_one_off_key_without_signing_in(
    page: Page, web_server: RunningServer, cat_photo: bytes
) -> None:
    key = web_server.create_key("pro")
    page.goto("/")
    caption_file(page, "cat.jpg", cat_photo)
    expect(page.locator("#error")).to_have_text(
        "API key is required. Type yours above, or sign in."
    )
    expect(page.locator("#status")).to_have_text("Not sent")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("200 OK")
    expect(page.locator("#caption")).not_to_be_empty()
    expect(page.locator("#error")).to_be_hidden()
    screenshot(page, "playground-one-off-key")
    snippets = " ".join(page.locator("pre.code code").all_text_contents())
    assert key not in snippets
    assert f"ick-{key.split('-')[1]}-****" in snippets
    for storage in ("localStorage", "sessionStorage"):
        assert page.evaluate(f"window.{storage}.length") == 0
    assert all(key not in cookie["value"] for cookie in page.context.cookies())


def test_a_caption_with_markup_is_shown_as_text(
    page: Page, operator_key: tuple[str, str, str], cat_photo: bytes
) -> None:
    hostile = "<b>x</b><img src=x onerror=alert(1)><script>alert(2)</script>"

    def answer(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="application/json",
            headers={"x-api-remaining-tokens": "<i>9</i>"},
            body=json.dumps({"status": "ok", "error": None, "data": {"caption": hostile}}),
        )

    key_sign_in(page, operator_key[0])
    page.route("**/ui/api/caption", answer)
    caption_file(page, "cat.jpg", cat_photo)
    expect(page.locator("#caption")).to_have_text(hostile)
    expect(page.locator("#credits")).to_have_text("<i>9</i>")
    assert page.locator("#result b, #result script, #result i, #result img[src='x']").count() == 0


def test_a_revoked_key_is_rejected(
    page: Page, browser: Browser, web_server: RunningServer, cat_photo: bytes
) -> None:
    key, key_id = web_server.create_key_with_id("pro")
    key_sign_in(page, key)
    operator = browser.new_context(base_url=web_server.url, viewport=DESKTOP)
    admin = operator.new_page()
    admin_sign_in(admin)
    row = admin.locator(f"#key-{key_id}")
    row.get_by_text("Revoke…").click()
    row.get_by_role("button", name=f"Revoke key {key_id} for good").click()
    expect(admin.locator("#flash")).to_contain_text(f"Key {key_id} revoked")
    expect(row.locator("td[data-label='State']")).to_have_text("revoked")
    operator.close()

    page.goto("/dashboard")
    expect(page).to_have_url(f"{web_server.url}/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_have_text(KEY_REVOKED)

    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_label("Choose an image").set_input_files(
        {"name": "c.jpg", "mimeType": "image/jpeg", "buffer": cat_photo}
    )
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("401 Unauthorized")
    expect(page.locator("#error")).to_have_text(KEY_REVOKED)
    assert json.loads(page.locator("#raw").inner_text())["error"] == "Invalid API key", (
        "the API's own answer is unchanged"
    )
    # A typo is still just an invalid key.
    page.get_by_label("API key").fill(key[:-1] + ("A" if key[-1] != "A" else "B"))
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#error")).to_have_text("Invalid API key")


def test_controls_are_labelled_and_reachable_by_keyboard(
    page: Page, operator_key: tuple[str, str, str]
) -> None:
    key_sign_in(page, operator_key[0])
    for path in ("/", "/dashboard"):
        page.goto(path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, button')]
                .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                    && !el.textContent.trim())
                .map((el) => el.outerHTML)"""
        )
        assert unlabelled == [], (path, unlabelled)
    page.goto("/")
    reached = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
    assert {"image-file", "format", "caption-button"} <= reached


TRICKY_CAPTIONS = [
    "A tabby cat.",
    "a: colon, then # a hash",
    "It's a 'quoted' \"word\"",
    "yes",
    "- starts like a list",
    "tab\there, ünïcode ✓ and <b>markup</b> & ampersands",
    "line\nbreak and a long tail " + "word " * 30,
    "long 'quoted' sentence with a colon: " * 6,
    "",
]


@pytest.mark.parametrize("media_type", [JSON, XML, YAML, CSV])
def test_the_page_reads_every_format_as_the_server_writes_it(page: Page, media_type: str) -> None:
    """The playground's parsers against the API's own renderer, on captions that need quoting,
    folding and escaping, and on an error envelope."""
    page.goto("/")
    parse = (
        "async ([text, type]) => (await import('/ui/static/formats.js')).parseEnvelope(text, type)"
    )
    for caption in TRICKY_CAPTIONS:
        body = bytes(render(ok({"caption": caption}), media_type).body).decode()
        parsed = page.evaluate(parse, [body, media_type])
        assert parsed == {"status": "ok", "error": None, "caption": caption}, body
    message = payload_too_large(MAX_UPLOAD_BYTES).message
    body = bytes(render(error(message), media_type, 413).body).decode()
    assert page.evaluate(parse, [body, media_type]) == {
        "status": "error",
        "error": message,
        "caption": None,
    }


def test_the_api_docs_render_from_this_server_alone(page: Page, web_server: RunningServer) -> None:
    """Air-gapped operators get working docs: every script and style comes from the server."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/docs")
    operation = page.locator(".opblock").filter(has_text="/v1/imagecaption").first
    expect(operation).to_be_visible()
    assert requested
    assert all(url.startswith(web_server.url) for url in requested), requested

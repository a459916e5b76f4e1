"""The playground as a new user meets it: layout, drag and drop, and what it says before sending."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from imagecaption.images.limits import format_size
from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer
from tests.web.actions import admin_sign_in
from tests.web.conftest import DESKTOP, PHONE

INVALID_URL = (
    "That is not a valid image URL: it must be a web address starting with http:// or https://."
)


def posts(page: Page) -> list[str]:
    """Every POST the page makes from now on."""
    sent: list[str] = []
    page.on(
        "request", lambda request: sent.append(request.url) if request.method == "POST" else None
    )
    return sent


def test_without_a_preview_the_result_uses_the_whole_width(
    page: Page, web_server: RunningServer, image_site: ImageSite, cat_jpeg: bytes
) -> None:
    url = image_site.add("/wide-result.jpg", cat_jpeg)
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    page.get_by_role("radio", name="Use an image URL").check()
    page.get_by_label("Image URL", exact=True).fill(url)
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("200 OK")
    answer = page.locator("#caption").evaluate("e => e.parentElement.getBoundingClientRect().width")
    grid = page.locator("#result-grid").evaluate("e => e.getBoundingClientRect().width")
    assert answer > 0.95 * grid, (answer, grid)
    # With a file there is a preview beside the answer.
    page.get_by_role("radio", name="Upload a file").check()
    page.get_by_label("Choose an image").set_input_files(
        {"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": cat_jpeg}
    )
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#preview")).to_be_visible()
    narrower = page.locator("#caption").evaluate(
        "e => e.parentElement.getBoundingClientRect().width"
    )
    assert narrower < 0.8 * grid


def test_a_dropped_file_is_the_file_control_s_file(page: Page, cat_jpeg: bytes) -> None:
    page.goto("/")
    dropped = page.evaluate_handle(
        """(bytes) => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(bytes)], "dropped.jpg", {type: "image/jpeg"});
            transfer.items.add(file);
            return transfer;
        }""",
        list(cat_jpeg),
    )
    zone = page.locator("[data-dropzone]")
    zone.dispatch_event("dragenter", {"dataTransfer": dropped})
    zone.dispatch_event("drop", {"dataTransfer": dropped})
    expect(page.locator("#file-hint")).to_contain_text("Selected: dropped.jpg")
    assert page.locator("#image-file").evaluate("input => input.files[0].name") == "dropped.jpg"


@pytest.mark.parametrize("text", ["not a url", "ftp://example.org/cat.jpg", "http://", "cat.jpg"])
def test_what_is_not_a_web_address_is_refused_before_sending(
    page: Page, web_server: RunningServer, text: str
) -> None:
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    page.get_by_role("radio", name="Use an image URL").check()
    sent = posts(page)
    page.get_by_label("Image URL", exact=True).fill(text)
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#error")).to_have_text(INVALID_URL)
    expect(page.locator("#status")).to_have_text("Not sent")
    assert sent == []


def test_the_url_hint_says_private_addresses_are_refused(page: Page) -> None:
    page.goto("/")
    page.get_by_role("radio", name="Use an image URL").check()
    hint = page.locator("#url-hint")
    expect(hint).to_contain_text("Local and private network addresses")
    expect(hint).to_contain_text("are refused")
    assert (
        page.get_by_label("Image URL", exact=True).get_attribute("aria-describedby") == "url-hint"
    )


def test_sizes_are_written_the_same_way_on_the_page_and_by_the_server(page: Page) -> None:
    page.goto("/")
    sizes = [0, 1, 1023, 1024, 1280, 1331, 1536, 999_999, 1_000_000, 5 * 1024 * 1024 - 1]
    sizes += [5 * 1024 * 1024, 5 * 1024 * 1024 + 52_429, 1_310_720, 123_456_789]
    written = page.evaluate(
        "async (sizes) => { const {formatSize} = await import('/ui/static/checks.js');"
        " return sizes.map(formatSize); }",
        sizes,
    )
    assert written == [format_size(size) for size in sizes]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_request_id_fits_on_one_line(
    page: Page, web_server: RunningServer, cat_jpeg: bytes, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    page.get_by_label("Choose an image").set_input_files(
        {"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": cat_jpeg}
    )
    page.get_by_role("button", name="Caption").click()
    request_id = page.locator("#request-id")
    expect(request_id).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    lines = request_id.evaluate(
        "e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)"
    )
    assert lines < 1.5, f"the request id takes {lines:.1f} lines"


def test_the_options_are_controls_that_reach_the_api(
    page: Page, web_server: RunningServer, cat_jpeg: bytes
) -> None:
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    options = page.get_by_role("group", name="Options")
    captions = options.get_by_label("Captions (num_captions)")
    expect(captions).to_have_attribute("min", "1")
    expect(captions).to_have_attribute("max", "10")
    expect(options.get_by_label("Longest caption, in words (max_length)")).to_have_attribute(
        "max", "200"
    )
    captions.fill("3")
    options.get_by_label("Longest caption, in words (max_length)").fill("2")
    options.get_by_role("checkbox", name=re.compile(r"^Details")).check()
    options.get_by_role("checkbox", name=re.compile(r"^Quote words seen")).uncheck()
    query = "?num_captions=3&max_length=2&details=true&read_text=false"
    expect(page.locator("#snippet-curl")).to_contain_text(f"/v1/imagecaption{query}")
    expect(page.locator("#snippet-python")).to_contain_text(query)
    sent = posts(page)
    _caption_the_cat(page, cat_jpeg)
    assert sent[-1].endswith(f"/v1/imagecaption{query}")
    data = json.loads(page.locator("#raw").inner_text())["data"]
    assert {"captions", "model", "timing_ms"} <= set(data)
    assert len(data["caption"].rstrip(".").split()) <= 2


def test_the_language_picker_lists_the_served_languages_and_reaches_the_api(
    page: Page, web_server: RunningServer, cat_jpeg: bytes
) -> None:
    served = httpx.get(web_server.url + "/readyz").json()["model"]["languages"]
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    picker = page.get_by_role("group", name="Options").get_by_label("Language (lang)")
    values = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert values == ["", *served]  # the browser's language first, then each one served
    picker.select_option(served[-1])
    expect(page.locator("#snippet-curl")).to_contain_text(f"?lang={served[-1]}")
    sent = posts(page)
    _caption_the_cat(page, cat_jpeg)
    assert sent[-1].endswith(f"/v1/imagecaption?lang={served[-1]}")
    expect(page.locator("#language")).to_have_text(served[-1])


def _caption_the_cat(page: Page, cat_jpeg: bytes) -> None:
    page.get_by_label("Choose an image").set_input_files(
        {"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": cat_jpeg}
    )
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("200 OK")


def _sideways(page: Page, selector: str) -> list[int]:
    """How far each matching element's content sticks out of its box, in pixels."""
    return page.locator(selector).evaluate_all("es => es.map(e => e.scrollWidth - e.clientWidth)")


def test_at_phone_width_the_answer_and_the_code_wrap(
    page: Page, web_server: RunningServer, cat_jpeg: bytes
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    page.get_by_role(
        "checkbox", name=re.compile(r"^Details")
    ).check()  # a long answer: objects, timings
    page.get_by_label("Choose an image").set_input_files(
        {
            "name": "a-cat-photo-with-a-rather-long-file-name.jpg",
            "mimeType": "image/jpeg",
            "buffer": cat_jpeg,
        }
    )
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("200 OK")
    for tab in ("curl", "Python", "JavaScript"):
        page.get_by_role("tab", name=tab).click()
        assert _sideways(page, "pre.code:visible") == [0], tab
    assert _sideways(page, "#raw") == [0]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _text_room(page: Page, selector: str) -> list[tuple[str, float, float]]:
    """For each option of each matching menu: its text, the width that text needs in the menu's
    font, and the room the closed menu has for it (its inner width less the arrow)."""
    found: list[tuple[str, float, float]] = page.locator(selector).evaluate_all(
        """menus => menus.flatMap(menu => {
            const style = getComputedStyle(menu);
            const pen = document.createElement("canvas").getContext("2d");
            pen.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const room = menu.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight) - 16;
            return [...menu.options].map(o => [o.text, pen.measureText(o.text).width, room]);
        })"""
    )
    return found


def test_at_phone_width_the_operator_plan_menus_are_not_cut(
    page: Page, web_server: RunningServer
) -> None:
    web_server.create_key("pro")
    admin_sign_in(page)
    page.set_viewport_size(PHONE)
    page.reload()
    menus = _text_room(page, "#key-plan, #keys select")
    assert menus
    cut = [(text, round(need), round(room)) for text, need, room in menus if need > room]
    assert not cut, cut
    expect(page.locator("#plan-offers")).to_contain_text("free: 1,000 credits/month")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

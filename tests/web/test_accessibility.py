"""axe-core on every page, the playground by keyboard alone, and where focus and the view go.

axe-core is injected into each page as it is in a person's browser (after the page's own scripts
ran and, where there is one, after a result arrived), and any violation fails, whatever its
impact. The one exception is /docs, where Swagger UI draws the operations: its own findings,
listed in ``SWAGGER_UI_OWN``, are tolerated inside its widget only, and only below "serious".
"""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, FileChooser, Page, expect

from tests.e2e.server import RunningServer
from tests.web.actions import admin_sign_in, caption_file, create_key_on_operator_page, key_sign_in
from tests.web.conftest import PHONE, assert_accessible

# Swagger UI renders its document title as <h1> and the operation groups as <h3>, skipping a
# level; no setting changes that, and the levels are not ours to rewrite inside its widget.
SWAGGER_UI_OWN = frozenset({"heading-order"})


@pytest.mark.parametrize("path", ["/", "/signin", "/admin", "/status", "/no-such-page"])
def test_pages_for_everyone_pass_axe(page: Page, axe_source: str, path: str) -> None:
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    assert_accessible(page, axe_source)


def test_key_holder_pages_pass_axe_with_results_on_them(
    page: Page, web_server: RunningServer, axe_source: str, cat_photo: bytes
) -> None:
    key_sign_in(page, web_server.create_key("free"))
    caption_file(page, "cat.jpg", cat_photo)
    expect(page.locator("#status")).to_have_text("200 OK")
    assert_accessible(page, axe_source)
    page.goto("/dashboard")
    expect(page.locator("#chart-calls rect.bar.ok")).to_have_count(1)
    expect(page.locator("#allowance-note")).to_be_visible()
    assert_accessible(page, axe_source)
    page.get_by_text("Show the numbers").click()
    assert_accessible(page, axe_source)


def test_operator_page_passes_axe_with_a_new_key_and_a_notice(page: Page, axe_source: str) -> None:
    admin_sign_in(page)
    secret = create_key_on_operator_page(page, "axe")
    row = page.locator(f"#key-{secret.split('-')[1]}")
    row.get_by_text("Revoke…").click()
    assert_accessible(page, axe_source)
    row.get_by_label(f"Credits to add to key {secret.split('-')[1]}").fill("5")
    row.get_by_role("button", name="Add credits").click()
    expect(page.locator("#flash")).to_be_visible()
    assert_accessible(page, axe_source)


def test_api_docs_pass_axe_but_for_swagger_uis_own_structure(page: Page, axe_source: str) -> None:
    page.goto("/docs")
    operation = page.locator(".opblock").filter(has_text="/v1/imagecaption").first
    expect(operation).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    tolerated = assert_accessible(page, axe_source, not_ours=SWAGGER_UI_OWN, inside="#swagger-ui")
    assert {v["id"] for v in tolerated} <= SWAGGER_UI_OWN
    operation.locator(".opblock-summary-control").click()
    expect(operation.get_by_role("button", name="Try it out")).to_be_visible()
    assert_accessible(page, axe_source, not_ours=SWAGGER_UI_OWN, inside="#swagger-ui")
    page.get_by_role("button", name="Authorize").first.click()
    expect(page.locator(".auth-container input")).to_be_visible()
    assert_accessible(page, axe_source, not_ours=SWAGGER_UI_OWN, inside="#swagger-ui")


def test_the_playground_by_keyboard_alone_from_key_to_result(
    page: Page, web_server: RunningServer, cat_photo: bytes
) -> None:
    """Tab, type and Enter only; the file dialog is the one thing a keyboard user answers
    outside the page."""
    key = web_server.create_key("pro")
    # Listening before any key is pressed: the browser intercepts file dialogs only once the
    # listener has reached it, and a Space pressed before that opens nothing to wait for.
    choosers: list[FileChooser] = []

    def chosen(chooser: FileChooser) -> None:
        choosers.append(chooser)

    page.on("filechooser", chosen)
    page.goto("/")

    def tab_to(element_id: str) -> None:
        for _ in range(25):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("one-off-key")
    page.keyboard.type(key)
    tab_to("image-file")
    page.keyboard.press("Space")
    for _ in range(100):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Space on the focused file input opened no file dialog"
    choosers[0].set_files({"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": cat_photo})
    expect(page.locator("#file-hint")).to_contain_text("cat.jpg")
    tab_to("caption-button")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("200 OK")
    # The answer has the focus, so a screen reader reads it and Tab goes on from there.
    expect(page.locator("#caption")).to_be_focused()
    expect(page.locator("#caption")).not_to_be_empty()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#result') !== null"), (
        "the next Tab stays with the result instead of starting over at the top"
    )


def test_an_error_gets_the_focus_too(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#error")).to_be_focused()
    expect(page.locator("#error")).to_have_text(
        "API key is required. Type yours above, or sign in."
    )


def test_on_a_phone_the_result_is_scrolled_into_view(
    context: BrowserContext, web_server: RunningServer, cat_photo: bytes
) -> None:
    page = context.new_page()
    page.set_viewport_size(PHONE)
    page.emulate_media(reduced_motion="reduce")  # no smooth scrolling to wait for
    page.goto("/")
    page.get_by_label("API key").fill(web_server.create_key("pro"))
    page.get_by_label("Choose an image").set_input_files(
        {"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": cat_photo}
    )
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).to_have_text("200 OK")
    expect(page.locator("#caption")).to_be_in_viewport()
    top = page.evaluate("document.getElementById('result').getBoundingClientRect().top")
    assert -1 <= top < PHONE["height"] / 2, top  # scrolling may stop half a pixel short

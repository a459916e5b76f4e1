"""Errors as people meet them in a browser, and as programs keep getting them.

A browser asks for HTML first (its Accept header lists XML too, which used to win), so it gets a
page with the message and a way back; everything else, and the API's own paths whoever asks, keep
the envelope in the format asked for. Forms answer with redirects, so a reload never posts again.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from imagecaption.web.error_pages import prefers_html
from tests.e2e.server import RunningServer
from tests.web.actions import admin_sign_in, create_key_on_operator_page
from tests.web.conftest import csrf_token

CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (CHROMIUM_ACCEPT, True),
        ("text/html", True),
        ("application/xhtml+xml;q=0.9, application/json;q=0.5", True),
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/*", False),
        ("application/json", False),
        ("application/xml, text/html", False),  # a tie goes to the first listed
        ("text/html;q=0.5, application/json", False),
        ("text/html;q=0, */*", False),
        ("text/html;q=oops, application/yaml", False),
    ],
)
def test_who_prefers_html(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


def test_a_mistyped_address_is_a_page_with_a_way_back(page: Page) -> None:
    response = page.goto("/dashbord")
    assert response is not None
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.locator("#error-message")).to_have_text("There is no page at this address.")
    assert "<?xml" not in page.content()
    page.locator("#way-back").click()
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()


def test_programs_and_the_api_keep_the_envelope(http: httpx.Client) -> None:
    """Exactly as before: the format asked for, and the API's paths even for a browser."""
    for accept, marker in (("application/json", '"status":"error"'), ("*/*", '"status":"error"')):
        answer = http.get("/no-such-page", headers={"Accept": accept})
        assert answer.status_code == 404
        assert marker in answer.text.replace(" ", "")
    xml = http.get("/no-such-page", headers={"Accept": "application/xml"})
    assert xml.text.startswith("<?xml")
    for path in ("/v1/imagecaption", "/ui/api/caption"):
        answer = http.get(path, headers={"Accept": CHROMIUM_ACCEPT})
        assert answer.status_code == 405
        assert answer.headers["content-type"].startswith("application/xml"), path
    page = http.get("/no-such-page", headers={"Accept": CHROMIUM_ACCEPT})
    assert page.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in page.headers
    assert page.headers["x-request-id"] in page.text, "the page names the request id"


def test_creating_a_key_redirects_so_a_reload_makes_no_second_key(
    page: Page, web_server: RunningServer
) -> None:
    admin_sign_in(page)
    keys_before = page.locator("#keys tbody tr").count()
    secret = create_key_on_operator_page(page, "reload me")
    key_id = secret.split("-")[1]
    expect(page).to_have_url(f"{web_server.url}/admin")
    expect(page.locator("#keys tbody tr")).to_have_count(keys_before + 1)
    page.reload()
    expect(page.get_by_role("heading", name="Operator", exact=True)).to_be_visible()
    expect(page.locator("#keys tbody tr")).to_have_count(keys_before + 1)
    expect(page.locator("#created")).to_have_count(0)
    assert secret not in page.content(), "the key is shown once"
    expect(page.locator(f"#key-{key_id}")).to_be_visible()


def test_opening_a_form_address_is_a_page_not_xml(page: Page) -> None:
    admin_sign_in(page)
    response = page.goto("/admin/keys")
    assert response is not None
    assert response.status == 405
    expect(page.get_by_role("heading", name="Not a page to open")).to_be_visible()
    expect(page.locator("#error-hint")).to_contain_text("already done")
    page.get_by_role("link", name="Back to the operator page").click()
    expect(page.get_by_role("heading", name="Operator", exact=True)).to_be_visible()


def test_a_failed_cross_site_check_is_a_page_with_a_way_back(page: Page) -> None:
    admin_sign_in(page)
    form = page.locator("#create-key")
    form.locator("input[name=csrf_token]").evaluate("input => { input.value = 'forged'; }")
    form.get_by_label("Name (optional)").fill("forged")
    form.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.locator("#error-message")).to_have_text(
        "Cross-site request refused: reload the page and try again from this site."
    )
    page.get_by_role("link", name="Back to the operator page").click()
    expect(page.locator("#keys")).not_to_contain_text("forged")


def test_a_negative_top_up_is_a_notice_on_the_operator_page(
    page: Page, web_server: RunningServer
) -> None:
    _, key_id = web_server.create_key_with_id("free")
    admin_sign_in(page)
    row = page.locator(f"#key-{key_id}")
    field = row.get_by_label(f"Credits to add to key {key_id}")
    field.fill("-5")
    # The field's own min="1" stops the browser; a form sent without that check still arrives.
    row.locator("form").first.evaluate("form => { form.noValidate = true; }")
    row.get_by_role("button", name="Add credits").click()
    expect(page).to_have_url(f"{web_server.url}/admin")
    expect(page.locator("#flash")).to_have_text(
        "Credits to add must be a whole number from 1 to 1,000,000,000; '-5' is not."
    )
    expect(row.locator("td[data-label='Credits left']")).to_have_text("1,500")


def test_sign_in_without_a_key_says_so_in_a_sentence(http: httpx.Client) -> None:
    form = http.get("/signin")
    answer = http.post("/signin", data={"credential": " ", "csrf_token": csrf_token(form.text)})
    assert answer.status_code == 401
    assert '<p class="alert error" role="alert" id="signin-error">API key is required.</p>' in (
        answer.text
    )

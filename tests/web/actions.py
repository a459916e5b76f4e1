"""What a person does on the pages, step by step, shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.conftest import ADMIN_TOKEN


def create_key_on_operator_page(page: Page, name: str) -> str:
    """Create a pro key on the operator page, which must be open; return the secret shown."""
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_label("Plan", exact=True).select_option("pro")
    page.get_by_role("button", name="Create key").click()
    return page.locator("#new-key").input_value()


def admin_sign_in(page: Page) -> None:
    page.goto("/admin")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Operator", exact=True)).to_be_visible()


def key_sign_in(page: Page, key: str) -> None:
    page.goto("/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def credits_left(page: Page) -> int:
    page.goto("/dashboard")
    return int(page.locator("#credits-left").inner_text().replace(",", ""))


def caption_file(page: Page, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    page.goto("/")
    page.get_by_label("Choose an image").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )
    page.get_by_role("button", name="Caption").click()
    expect(page.locator("#status")).not_to_be_empty()

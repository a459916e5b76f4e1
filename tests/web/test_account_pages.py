"""The dashboard, the operator page, the status page and the API docs: what their figures mean,
and that every call a key makes shows up in them."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.server import RunningServer
from tests.web.actions import admin_sign_in, key_sign_in
from tests.web.conftest import MAX_UPLOAD_BYTES


def declared_too_large(server: RunningServer, key: str) -> str:
    """An upload whose Content-Length is over the limit, body never sent: the status line."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /v1/imagecaption HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {MAX_UPLOAD_BYTES * 3}\r\n\r\n"
            ).encode()
        )
        reply = b""
        while chunk := sock.recv(65536):  # the server closes after answering
            reply += chunk
    return reply.decode(errors="replace").split("\r\n", 1)[0]


def refused_in_totals(page: Page) -> int:
    """413s in the operator's usage across keys ("By status: 200: 5, 413: 2")."""
    by_status = page.locator("#usage-summary div").filter(has_text="By status").locator("dd")
    found = re.search(r"\b413: (\d+)", by_status.inner_text())
    return int(found.group(1)) if found else 0


def test_refused_uploads_show_in_the_dashboard_and_the_operator_totals(
    page: Page, web_server: RunningServer
) -> None:
    key = web_server.create_key("pro")
    admin_sign_in(page)
    before = refused_in_totals(page)
    assert declared_too_large(web_server, key).startswith("HTTP/1.1 413 ")
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        streamed = client.post(
            "/v1/imagecaption",
            headers={"X-API-Key": key},
            files={"image": ("big.jpg", b"\xff\xd8\xff" + bytes(MAX_UPLOAD_BYTES), "image/jpeg")},
        )
    assert streamed.status_code == 413
    page.reload()
    assert refused_in_totals(page) - before == 2
    key_sign_in(page, key)
    statuses = page.locator("#recent-calls td[data-label='Status']").all_inner_texts()
    assert statuses == ["413", "413"]
    credits = page.locator("#recent-calls td[data-label='Credits']").all_inner_texts()
    assert credits == ["0", "0"], "refused calls cost nothing"
    failed = page.locator("#chart-calls rect.bar.failed title").first
    expect(failed).to_have_text(f"{datetime.now(UTC):%b %d}: 2 failed")


def operator_figure(page: Page, label: str, pattern: str) -> int:
    """A number from the operator's usage summary, 0 when not there yet."""
    text = page.locator("#usage-summary div").filter(has_text=label).locator("dd").inner_text()
    found = re.search(pattern, text)
    return int(found.group(1).replace(",", "")) if found else 0


def test_refused_calls_show_in_the_dashboard_and_the_operator_page(
    page: Page, web_server: RunningServer, cat_photo: bytes
) -> None:
    """429 and 405 with a known key count for the key; 401s count in the operator's totals."""
    key = web_server.create_key("slow")  # 2 calls a minute
    admin_sign_in(page)

    def figures() -> tuple[int, int, int]:
        page.goto("/admin")
        return (
            operator_figure(page, "By status", r"\b429: (\d+)"),
            operator_figure(page, "By status", r"\b405: (\d+)"),
            operator_figure(page, "without a valid key", r"^([\d,]+)"),
        )

    before = figures()
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        files = {"image": ("c.jpg", cat_photo, "image/jpeg")}
        answers = [
            client.post("/v1/imagecaption", headers={"X-API-Key": key}, files=files)
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert client.get("/v1/imagecaption", headers={"X-API-Key": key}).status_code == 405
        assert client.post("/v1/imagecaption", files=files).status_code == 401
        unknown = {"X-API-Key": "ick-AAAAAAAA-" + "A" * 40}
        assert client.post("/v1/imagecaption", headers=unknown, files=files).status_code == 401
    after = figures()
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 2]
    key_sign_in(page, key)
    statuses = page.locator("#recent-calls td[data-label='Status']").all_inner_texts()
    assert statuses == ["405", "429", "200", "200"]
    failed = page.locator("#chart-calls rect.bar.failed title").first
    expect(failed).to_have_text(f"{datetime.now(UTC):%b %d}: 2 failed")


def test_the_calls_chart_has_a_legend(page: Page, web_server: RunningServer) -> None:
    key_sign_in(page, web_server.create_key("pro"))
    legend = page.locator("#legend-calls li")
    expect(legend).to_have_text(["succeeded", "failed"])
    colours = [
        item.locator(".swatch").evaluate("e => getComputedStyle(e).backgroundColor")
        for item in legend.all()
    ]
    bars = [
        page.evaluate(
            "(css) => { const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');"
            " r.setAttribute('class', 'bar ' + css);"
            " document.querySelector('#chart-calls').appendChild(r);"
            " const fill = getComputedStyle(r).fill; r.remove(); return fill; }",
            css,
        )
        for css in ("ok", "failed")
    ]
    assert colours == bars, "each swatch has the colour of its bars"
    assert colours[0] != colours[1]
    expect(page.locator("#legend-credits")).to_have_count(0)  # one series needs no legend


def test_the_sign_up_bonus_is_explained_on_both_pages(
    page: Page, web_server: RunningServer
) -> None:
    key_sign_in(page, web_server.create_key("free"))
    expect(page.locator("#credits-left")).to_have_text("1,500")
    expect(page.locator("#allowance-note")).to_have_text(
        "1,000 a month on the free plan, plus the one-off sign-up bonus of 500 "
        "in this first period."
    )
    admin_sign_in(page)
    expect(page.locator("#plan-offers li").first).to_have_text(
        "free: 1,000 credits/month + 500 once, at creation"
    )
    expect(page.locator("#plan-terms")).to_contain_text("one-off sign-up bonus")


def test_an_upgrade_shows_on_the_key_holders_dashboard_at_once(
    page: Page, web_server: RunningServer
) -> None:
    key, key_id = web_server.create_key_with_id("free")
    web_server.cli("keys", "set-plan", key_id, "pro")
    key_sign_in(page, key)
    expect(page.locator("#plan")).to_have_text("pro")
    expect(page.locator("#credits-left")).to_have_text("10,000,500")
    expect(page.locator("#allowance-note")).to_contain_text(
        "10,000,000 a month on the pro plan, plus 500 for this period only"
    )


def test_the_footer_leads_to_a_status_page_and_the_json_stays(
    page: Page, http: httpx.Client
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Status and latency").click()
    expect(page).to_have_title("Status · imagecaption")
    stats = http.get("/v1/stats").json()
    expect(page.locator("#model-name")).to_have_text(stats["model"])
    headers = page.locator("#latency thead th").all_inner_texts()
    assert headers == ["Average", "p50", "p75", "p90", "p99"]
    assert http.get("/v1/stats").headers["content-type"] == "application/json"
    page.get_by_role("link", name="/v1/stats").click()
    assert json.loads(page.locator("body").inner_text())["model"] == stats["model"]


def test_the_api_docs_are_linked_both_ways_and_have_an_authorize_button(
    page: Page, web_server: RunningServer
) -> None:
    key = web_server.create_key("pro")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API docs").click()
    # The caption operation itself, not the jobs' operations whose paths begin the same way.
    path = page.locator('.opblock-summary-path[data-path="/v1/imagecaption"]')
    operation = page.locator(".opblock-post").filter(has=path).first
    expect(operation).to_be_visible()
    assert all(url.startswith(web_server.url) for url in requested), "no CDN, no validator"
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".auth-container input").fill(key)
    page.locator(".auth-container button.authorize").click()
    expect(page.locator(".auth-container")).to_contain_text("Authorized")
    page.locator(".auth-btn-wrapper .btn-done").click()
    operation.locator(".opblock-summary-control").click()
    parameters = operation.locator(".parameters")
    for name in ("num_captions", "max_length", "details", "read_text"):
        row = parameters.locator(f"tr[data-param-name={name}]")
        expect(row).to_contain_text("(query)")
        expect(row.locator(".parameter__type")).to_contain_text(
            "boolean" if name in ("details", "read_text") else "integer"
        )
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("input[type=file]").set_input_files(
        {"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"}
    )
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_contain_text("400")  # the image was refused, so the key was accepted
    for storage in ("localStorage", "sessionStorage"):
        assert key not in page.evaluate(f"JSON.stringify(window.{storage})")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()

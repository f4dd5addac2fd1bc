"""The web UI in a real browser: Debian's Chromium driven by Playwright against a live server.

The app is served by werkzeug on a free 127.0.0.1 port in a thread, on the test database, with the
directory's clock pinned. Screenshots of the main pages go to test-artifacts/screenshots/ for review.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from directory import db, entries
from tests import factories
from tests.conftest import require_tool
from tests.web.conftest import WebAccount

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SATURDAY_13_BERLIN = datetime(2027, 1, 16, 12, 0, tzinfo=UTC).timestamp()
WEDNESDAY_11_BERLIN = datetime(2027, 1, 13, 10, 0, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_tool(CHROMIUM, "install chromium (scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server; each request thread closes its own database connection."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        response = app(environ, start_response)
        try:
            return list(response)
        finally:
            getattr(response, "close", lambda: None)()
            if not db.database.is_closed():
                db.database.close()

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, account: WebAccount) -> None:
    page.goto("/sign-in")
    page.get_by_label("Account name").fill(account.name)
    page.get_by_label("Password").fill(account.password)
    if account.totp_secret:
        page.get_by_label("One-time code").fill(account.code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_text(f"Signed in as {account.name}").is_visible()


def test_search_by_domain_then_the_closed_banner(page: Any, make_org: Callable[..., str],
                                                 clock: Callable[[float], None]) -> None:
    clock(SATURDAY_13_BERLIN)
    make_org()
    page.goto("/")
    shot(page, "home")
    page.get_by_label("Name, domain, IP address, AS number or email address").fill("telecom.example")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Example Telecom").wait_for()
    shot(page, "results")
    page.get_by_role("link", name="Example Telecom").click()
    banner = page.locator(".reach.banner")
    assert " ".join(banner.inner_text().split()) == (
        "Closed — opens at Mon 18 Jan, 08:00 (Europe/Berlin); your time Mon 18 Jan, 07:00 (UTC)")
    shot(page, "organisation")
    page.goto(page.url + "?tz=Asia/Baku")
    assert "your time Mon 18 Jan, 11:00 (Asia/Baku)" in page.locator(".reach.banner").inner_text()


def test_verify_shows_the_verdict_and_the_call_back_number(
        page: Any, make_org: Callable[..., str], web_account: Callable[..., WebAccount],
        clock: Callable[[float], None]) -> None:
    clock(WEDNESDAY_11_BERLIN)
    make_org(**factories.police())
    sign_in(page, web_account("reader"))
    page.get_by_role("link", name="Verify a requester").click()
    page.get_by_label("Sender's email address").fill("a.mammadova@police.example.org")
    page.get_by_label("Request type").select_option("subscriber_info")
    page.get_by_role("button", name="Verify").click()
    verdict = page.locator("#verdict-title")
    assert verdict.inner_text() in {"Verified", "Caution"}
    assert page.locator(".callback-box .callback").inner_text().endswith("+994125900000")
    shot(page, "verify")
    page.get_by_label("Sender's email address").fill("a.mammadova@gmail.com")
    page.get_by_role("button", name="Verify").click()
    assert page.locator("#verdict-title").inner_text() == "Not verified"


def test_publisher_signs_in_with_totp_and_edits_the_entry(
        page: Any, make_org: Callable[..., str], web_account: Callable[..., WebAccount],
        clock: Callable[[float], None]) -> None:
    clock(WEDNESDAY_11_BERLIN)
    entry_id = make_org()
    sign_in(page, web_account("publisher", entry_id))
    page.goto(f"/organisations/{entry_id}")
    page.get_by_role("link", name="Edit organisation").click()
    page.get_by_label("Name", exact=True).fill("Example Telecom AG")
    page.get_by_label("Programme description").fill("Requests by signed email only.")
    shot(page, "publisher-edit")
    page.get_by_role("button", name="Save a new version").click()
    assert page.get_by_text("Saved as version 2.").is_visible()
    assert page.get_by_role("heading", name="Example Telecom AG", level=1).is_visible()
    assert page.locator("table.history tbody tr").count() == 2
    assert entries.get_document(entry_id)["version"] == 2
    shot(page, "organisation-publisher")
    page.get_by_role("link", name="Edit contacts").click()
    assert page.get_by_label("Remove this contact").count() == 1
    shot(page, "publisher-contacts")


def test_a_form_without_its_csrf_token_is_refused(page: Any, web_account: Callable[..., WebAccount]) -> None:
    reader = web_account("reader")
    page.goto("/sign-in")
    page.locator("input[name=csrf_token]").evaluate("field => field.remove()")
    page.get_by_label("Account name").fill(reader.name)
    page.get_by_label("Password").fill(reader.password)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", level=1).inner_text() == "The request could not be understood"
    assert page.get_by_text("This form has expired").is_visible()
    assert page.get_by_text("Signed in as").count() == 0


def test_the_azerbaijani_page_renders(page: Any, make_org: Callable[..., str]) -> None:
    entry_id = make_org()
    page.goto("/")
    page.get_by_role("link", name="Azərbaycanca").click()
    assert page.locator("html").get_attribute("lang") == "az"
    assert page.get_by_role("heading", level=1).inner_text() == "Əlaqə nöqtəsi tapın"  # noqa: RUF001
    shot(page, "home-az")
    page.goto(f"/organisations/{entry_id}")
    assert page.get_by_role("heading", name="Təcili əlaqə kanalları").is_visible()  # noqa: RUF001
    shot(page, "organisation-az")


def test_admin_pages(page: Any, make_org: Callable[..., str], web_account: Callable[..., WebAccount],
                     clock: Callable[[float], None]) -> None:
    clock(WEDNESDAY_11_BERLIN)
    make_org()
    page.goto("/sign-in")
    shot(page, "sign-in")
    sign_in(page, web_account("admin"))
    page.get_by_role("link", name="Administration").click()
    page.get_by_role("link", name="Freshness report").click()
    assert page.get_by_text("emergency line 1 (phone) has never been tested").is_visible()
    shot(page, "admin-freshness")
    page.goto("/admin/accounts")
    shot(page, "admin-accounts")

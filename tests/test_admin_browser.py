"""The operator's pages in a real browser (Debian's Chromium driven by Playwright): the password
prompt, searching readers, opening one, unsubscribing and removing them, lifting a suppression.
Screenshots go to test-artifacts/admin/."""

from __future__ import annotations

import os

from tests.adminsupport import ADMIN_PASSWORD, populate
from tests.conftest import ROOT, require
from tests.test_web_browser import CHROMIUM, LAUNCH_ARGS
from tests.websupport import Sites

ARTIFACTS = ROOT / "test-artifacts" / "admin"


def test_the_operator_manages_the_list_in_chromium(sites: Sites) -> None:
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    site = sites(admin={"password": ADMIN_PASSWORD})
    populate(site)
    base = site.base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            # Without credentials the browser is asked for them and gets nothing else
            # (headless Chromium has no prompt to show: ask through its request API).
            anonymous = browser.new_context()
            denied = anonymous.request.get(f"{base}/admin")
            assert denied.status == 401 and "bob@" not in denied.text()
            assert denied.headers["www-authenticate"].startswith("Basic ")
            anonymous.close()

            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                http_credentials={"username": "admin", "password": ADMIN_PASSWORD},
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base}/admin")
            expect(page.get_by_role("heading", name="Subscribers")).to_be_visible()
            shot(page, "01-subscribers")

            # Search, then filter by status.
            page.get_by_label("Address or name contains").fill("bob")
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_role("link", name="bob@example.org")).to_be_visible()
            expect(page.get_by_role("link", name="ada@example.org")).to_have_count(0)
            page.get_by_label("Address or name contains").fill("")
            page.get_by_label("Status").select_option("pending")
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_role("link", name="eve@example.org")).to_be_visible()
            expect(page.get_by_role("link", name="bob@example.org")).to_have_count(0)
            shot(page, "02-pending")

            # A reader whose mail is deferred: the server's answer is on their page.
            page.goto(f"{base}/admin?q=bob")
            page.get_by_role("link", name="bob@example.org").click()
            expect(page.locator("#deliveries")).to_contain_text("421 4.7.0 try again later")
            shot(page, "03-reader")
            page.get_by_role("button", name="Unsubscribe").click()
            expect(page.get_by_role("status")).to_have_text("The reader is unsubscribed.")
            expect(page.locator("#reader-status")).to_have_text("unsubscribed")
            assert site.status("bob@example.org") == "unsubscribed"

            # Remove asks for the checkbox first (the browser will not submit without it).
            page.get_by_role("button", name="Remove").click()
            assert site.row("bob@example.org") is not None
            page.get_by_label("Erase this reader").check()
            page.get_by_role("button", name="Remove").click()
            expect(page.get_by_role("status")).to_have_text(
                "The reader and their history are erased."
            )
            assert site.row("bob@example.org") is None
            shot(page, "04-removed")

            # Editions and suppressions.
            page.get_by_role("link", name="Editions").click()
            expect(page.locator("#editions")).to_contain_text("2026-03-02")
            shot(page, "05-editions")
            page.get_by_role("link", name="Suppressions").click()
            expect(page.locator("#suppressions")).to_contain_text("gone@example.org")
            page.get_by_role("button", name="Lift the suppression of gone@example.org").click()
            expect(page.get_by_role("status")).to_have_text(
                "The suppression is lifted and the reader is active again."
            )
            assert site.status("gone@example.org") == "active"
            shot(page, "06-lifted")

            page.get_by_role("link", name="Ingest").click()
            expect(page.get_by_role("heading", name="Ingest")).to_be_visible()
            assert errors == []
            context.close()
        finally:
            browser.close()

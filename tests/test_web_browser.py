"""The whole reader journey in a real browser (Debian's Chromium driven by Playwright): sign up,
receive the confirmation mail in a real SMTP server, confirm, edit topics while the preview
follows, save, unsubscribe with one click. Screenshots of every step go to test-artifacts/."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from digest.models import Paper
from tests.conftest import ROOT, require
from tests.smtpd import Received
from tests.websupport import Site, Sites, links_in, paper

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "web"

PAPERS: list[Paper] = [
    paper(
        "2603.00001",
        "Speculative Decoding with Draft Trees for Faster Inference",
        "We accelerate inference of large models with speculative decoding and a KV cache.",
        upvotes=48,
        url="https://arxiv.org/abs/2603.00001",
    ),
    paper(
        "2603.00002",
        "Robot Manipulation with Diffusion Policies",
        "A robot learns dexterous manipulation from demonstrations.",
        upvotes=31,
        url="https://arxiv.org/abs/2603.00002",
    ),
    paper(
        "2603.00003",
        "Quantization-Aware Training for Tiny Devices",
        "Low-bit quantization keeps accuracy on microcontrollers.",
        upvotes=12,
        url="https://arxiv.org/abs/2603.00003",
    ),
]


def _wait_for_mail(site: Site, count: int) -> Received:
    deadline = time.monotonic() + 10
    while len(site.mails) < count:
        assert time.monotonic() < deadline, f"expected {count} mails, got {len(site.mails)}"
        time.sleep(0.05)
    return site.mails[count - 1]


def test_the_whole_journey_in_chromium(sites: Sites) -> None:
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    site = sites()
    site.add_papers(PAPERS)
    base = site.base_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def show_mail(context, mail: Received, name: str) -> None:  # type: ignore[no-untyped-def]
        """The HTML part as a mail client would show it, for the screenshot record."""
        body = mail.message.get_body(preferencelist=("html",))
        assert body is not None
        viewer = context.new_page()
        viewer.set_content(body.get_content())
        shot(viewer, name)
        viewer.close()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            # A phone first: the sign-up page must be usable on a small screen.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo"
            )
            small = phone.new_page()
            small.goto(f"{base}/")
            expect(small.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
            shot(small, "00-signup-phone")
            phone.close()

            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, timezone_id="America/New_York"
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # 1. Sign up. The time zone comes from the browser.
            page.goto(f"{base}/")
            expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
            page.get_by_label("Your email address").fill("ada@example.org")
            page.get_by_label("Efficient inference").check()
            page.get_by_label("How often").select_option("weekly:mon")
            page.get_by_label("At (your local time)").fill("07:30")
            shot(page, "01-signup")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
            shot(page, "02-check-inbox")

            # 2. The confirmation mail arrives; its link opens a page with one button.
            confirmation = _wait_for_mail(site, 1)
            assert confirmation.rcpt_tos == ["ada@example.org"]
            [confirm_path] = links_in(confirmation)
            show_mail(context, confirmation, "02b-confirmation-mail")
            page.goto(base + confirm_path)
            assert site.status("ada@example.org") == "pending"
            shot(page, "03-confirm")
            page.get_by_role("button", name="Confirm my subscription").click()
            expect(page.get_by_role("heading", name="Welcome! You are subscribed")).to_be_visible()
            assert site.status("ada@example.org") == "active"
            shot(page, "04-welcome")
            welcome = _wait_for_mail(site, 2)
            _manage_path, unsubscribe_path = links_in(welcome)
            show_mail(context, welcome, "04b-welcome-mail")

            # 3. Preferences: the preview shows what the chosen topic matches…
            page.get_by_role("link", name="Choose topics and preview your digest").click()
            preview = page.locator("#preview")
            expect(preview).to_contain_text("Speculative Decoding with Draft Trees")
            expect(page.get_by_label("How often")).to_have_value("weekly:mon")
            shot(page, "05-preferences")

            # …and follows the reader's edits without saving.
            page.get_by_label("Efficient inference").uncheck()
            page.get_by_label("Topic 1 name").fill("Robots")
            page.get_by_label("Topic 1 query").fill("robot")
            expect(preview.locator("ol.papers")).to_contain_text("Robot Manipulation")
            expect(preview.locator("ol.papers")).not_to_contain_text("Speculative Decoding")
            shot(page, "06-preview-follows-topics")
            whole = page.get_by_role("link", name="Open the whole e-mail")
            expect(whole).to_have_attribute("href", re.compile(r"topic_query=robot"))

            page.get_by_label("Topic 1 query").fill("robot AND (")
            expect(preview).to_contain_text("column")
            shot(page, "07-preview-query-error")
            page.get_by_label("Topic 1 query").fill("robot OR manipulation")
            expect(preview.locator("ol.papers")).to_contain_text("Robot Manipulation")

            page.get_by_role("button", name="Add another topic").click()
            expect(page.get_by_label("Topic 3 name")).to_be_focused()

            page.get_by_role("button", name="Save my preferences").click()
            expect(page.get_by_role("status")).to_contain_text("Saved")
            profile = site.profile("ada@example.org")
            assert [(t.name, t.query) for t in profile.topics] == [
                ("Robots", "robot OR manipulation")
            ]
            shot(page, "08-saved")

            # 4. Leave with one click from the link every mail carries.
            page.goto(base + unsubscribe_path)
            shot(page, "09-unsubscribe")
            page.get_by_role("button", name="Unsubscribe").click()
            expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
            assert site.status("ada@example.org") == "unsubscribed"
            shot(page, "10-unsubscribed")
            assert errors == []
        finally:
            browser.close()


def test_the_pages_work_without_javascript(sites: Sites) -> None:
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    site = sites()
    site.add_papers(PAPERS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(f"{site.base_url}/")
            expect(page.get_by_label("Time zone")).to_have_value("UTC")
            page.get_by_label("Your email address").fill("grace@example.org")
            page.get_by_label("Or type your own query").fill("robot AND (")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.get_by_role("alert")).to_contain_text("One thing to fix")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "11-no-js-query-error.png"), full_page=True)
            page.get_by_label("Or type your own query").fill("robot")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
        finally:
            browser.close()
    _wait_for_mail(site, 1)
    assert site.status("grace@example.org") == "pending"


def test_artifacts_folder_is_ignored_by_git() -> None:
    assert "/test-artifacts/" in Path(ROOT / ".gitignore").read_text(encoding="utf-8")

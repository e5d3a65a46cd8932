"""The time-zone list of the sign-up and preferences forms: canonical zones grouped by region,
UTC first, and the browser's own zone chosen (in real Chromium), even by an older name."""

from __future__ import annotations

import os
import zoneinfo
from html.parser import HTMLParser

import pytest

from digest.app.tokens import Purpose
from digest.store.subscribers import get_row_by_email
from digest.web.timezones import canonical_zones, timezone_list
from tests.conftest import require
from tests.test_web_browser import CHROMIUM, LAUNCH_ARGS
from tests.websupport import Site

LEGACY = ("US/Eastern", "Asia/Calcutta", "Europe/Kiev", "GB", "America/Buenos_Aires", "Etc/GMT+5")


class Select(HTMLParser):
    """The time-zone <select>: (group, value, label) of each option, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.group: str | None = None
        self.options: list[tuple[str | None, str, str]] = []
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "select":
            self.inside = found.get("id") == "timezone"
        elif self.inside and tag == "optgroup":
            self.group = found.get("label")
        elif self.inside and tag == "option":
            self._value = found.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.inside = False
        elif tag == "optgroup":
            self.group = None

    def handle_data(self, data: str) -> None:
        if self._value is not None:
            self.options.append((self.group, self._value, data.strip()))
            self._value = None


def _options(site: Site, path: str = "/") -> list[tuple[str | None, str, str]]:
    page = site.client().get(path)
    assert page.status_code == 200
    parser = Select()
    parser.feed(page.text)
    return parser.options


def test_the_list_holds_canonical_zones_only() -> None:
    zones = canonical_zones()
    assert not set(LEGACY) & set(zones)
    assert {"Europe/Paris", "America/New_York", "Asia/Kolkata", "Europe/Kyiv"} <= set(zones)
    assert set(zones) <= zoneinfo.available_timezones()
    assert len(zones) < len(zoneinfo.available_timezones()) * 0.9


def test_the_sign_up_form_groups_them_by_region_with_utc_first(site: Site) -> None:
    options = _options(site)
    assert options[0] == (None, "UTC", "UTC")
    values = [value for _, value, _ in options]
    assert len(values) == len(set(values)) == len(timezone_list())
    assert not set(LEGACY) & set(values)
    groups = {group for group, _, _ in options[1:]}
    assert {"Africa", "America", "Asia", "Europe", "Pacific"} <= groups
    assert all(value.startswith(f"{group}/") for group, value, _ in options[1:])
    assert ("America", "America/Argentina/Buenos_Aires", "Argentina / Buenos Aires") in options
    assert ("Europe", "Europe/Paris", "Paris") in options


def test_the_preferences_form_keeps_a_stored_older_name(site: Site) -> None:
    public_id = site.add("ada@example.org")
    with site.store.session() as session:
        row = get_row_by_email(session, "ada@example.org")
        assert row is not None
        row.timezone = "Asia/Calcutta"
    options = _options(site, f"/preferences/{site.token(Purpose.MANAGE, public_id)}")
    assert options[0] == (None, "Asia/Calcutta", "Asia/Calcutta")
    assert len(options) == len(timezone_list()) + 1


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata", "America/Argentina/Cordoba"])
def test_the_browser_zone_is_chosen_in_chromium(site: Site, zone: str) -> None:
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(timezone_id=zone)
            page = context.new_page()
            page.goto(f"{site.base_url}/")
            reported = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
            # Chromium may report an older name (Asia/Calcutta): it is offered and chosen too.
            assert page.get_by_label("Time zone").input_value() == reported
            assert reported in zoneinfo.available_timezones()
        finally:
            browser.close()

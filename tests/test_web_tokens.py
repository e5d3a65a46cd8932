"""Confirming, and what every signed link does when it is forged, tampered, expired or misused."""

from __future__ import annotations

import pytest

from digest.app.tokens import Purpose
from tests.conftest import TEST_SECRET
from tests.websupport import Site, Sites, csrf_token, expired_token, links_in, subscribe_form


def _confirm(site: Site, path: str) -> tuple[int, str]:
    client = site.client()
    page = client.get(path)
    # Pages without a form (already confirmed…) carry no field; the landing page always does.
    token = csrf_token(page.text if "csrf_token" in page.text else client.get("/").text)
    response = client.post(path, data={"csrf_token": token})
    return response.status_code, response.text


# Confirming ------------------------------------------------------------------------------------


def test_opening_the_confirmation_link_only_shows_a_button(site: Site) -> None:
    public_id = site.add("ada@example.org", status="pending")
    page = site.client().get(f"/confirm/{site.token(Purpose.CONFIRM, public_id)}")
    assert page.status_code == 200
    assert "Confirm my subscription" in page.text and 'method="post"' in page.text
    assert site.status("ada@example.org") == "pending"  # link scanners confirm nothing


def test_pressing_confirm_activates_and_welcomes_the_reader(site: Site) -> None:
    client = site.client()
    client.post("/subscribe", data=subscribe_form(client))
    [confirm_path] = links_in(site.mails[0])

    status, html = _confirm(site, confirm_path)
    assert status == 200
    assert "You are subscribed" in html
    assert "/preferences/" in html and "/unsubscribe/" in html
    row = site.row("ada@example.org")
    assert row is not None and row.status == "active" and row.confirmed_at == site.clock()

    welcome = site.mails[1]
    assert welcome.message["Subject"] == "Welcome to Papers Digest"
    manage, unsubscribe = links_in(welcome)
    assert manage.startswith("/preferences/") and unsubscribe.startswith("/unsubscribe/")
    assert site.client().get(manage).status_code == 200


def test_confirming_twice_changes_nothing_and_sends_no_second_welcome(site: Site) -> None:
    public_id = site.add("ada@example.org", status="pending")
    path = f"/confirm/{site.token(Purpose.CONFIRM, public_id)}"
    assert _confirm(site, path)[0] == 200
    confirmed_at = site.row("ada@example.org").confirmed_at  # type: ignore[union-attr]
    site.clock.advance(hours=1)
    status, html = _confirm(site, path)
    assert status == 200 and "already subscribed" in html
    assert site.row("ada@example.org").confirmed_at == confirmed_at  # type: ignore[union-attr]
    assert len(site.mails) == 1
    assert "already subscribed" in site.client().get(path).text


def test_an_old_confirmation_link_does_not_undo_a_later_unsubscribe(site: Site) -> None:
    public_id = site.add("ada@example.org", status="unsubscribed")
    path = f"/confirm/{site.token(Purpose.CONFIRM, public_id)}"
    status, html = _confirm(site, path)
    assert status == 200 and "unsubscribed" in html
    assert site.status("ada@example.org") == "unsubscribed"


def test_a_bounced_address_cannot_be_confirmed(site: Site) -> None:
    public_id = site.add("ada@example.org", status="bounced")
    _confirm(site, f"/confirm/{site.token(Purpose.CONFIRM, public_id)}")
    assert site.status("ada@example.org") == "bounced"


def test_confirming_needs_the_forms_csrf_token(site: Site) -> None:
    public_id = site.add("ada@example.org", status="pending")
    path = f"/confirm/{site.token(Purpose.CONFIRM, public_id)}"
    client = site.client()
    client.get(path)
    assert client.post(path, data={}).status_code == 403
    assert client.post(path, data={"csrf_token": "x" * 64}).status_code == 403
    assert site.status("ada@example.org") == "pending"


def test_the_welcome_page_survives_a_mail_server_outage(sites: Sites) -> None:
    site = sites(mail_down=True)
    public_id = site.add("ada@example.org", status="pending")
    status, html = _confirm(site, f"/confirm/{site.token(Purpose.CONFIRM, public_id)}")
    assert status == 200 and "/preferences/" in html
    assert site.status("ada@example.org") == "active"


# Bad tokens ------------------------------------------------------------------------------------


def _tampered(token: str) -> str:
    payload, rest = token.split(".", 1)
    flipped = "A" if payload[-1] != "A" else "B"
    return f"{payload[:-1]}{flipped}.{rest}"


@pytest.fixture
def pending(site: Site) -> str:
    return site.add("ada@example.org", status="pending")


def _bad_tokens(site: Site, public_id: str, purpose: Purpose) -> list[tuple[str, str]]:
    good = site.token(purpose, public_id)
    other = next(p for p in Purpose if p is not purpose)
    from digest.app.tokens import Signer

    return [
        ("forged", "eyJhbGciOiJub25lIn0.not-a-token.at-all"),
        ("garbage", "%00%0d%0a<script>"),
        ("tampered", _tampered(good)),
        ("truncated", good[:-3]),
        ("wrong purpose", site.token(other, public_id)),
        (
            "other site's key",
            Signer(["another-site-secret-key-0123456789"]).sign(purpose, public_id),
        ),
        ("unknown subscriber", site.token(purpose, "no-such-subscriber")),
    ]


ROUTES = {
    Purpose.CONFIRM: "/confirm/{}",
    Purpose.MANAGE: "/preferences/{}",
    Purpose.UNSUBSCRIBE: "/unsubscribe/{}",
    Purpose.EDITION: "/editions/{}",
    Purpose.FEEDBACK: "/feedback/{}?rating=up",  # a bad token, not a missing rating
}


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_tokens_get_a_400_page_and_change_nothing(
    site: Site, pending: str, purpose: Purpose, method: str
) -> None:
    if method == "POST" and purpose is Purpose.EDITION:
        pytest.skip("the browser view is a read-only page: it takes no POST")
    client = site.client()
    token = csrf_token(client.get("/").text)
    before = site.row("ada@example.org")
    for label, bad in _bad_tokens(site, pending, purpose):
        path = ROUTES[purpose].format(bad)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(
                path, data={"csrf_token": token, "List-Unsubscribe": "One-Click"}
            )
        if label == "unknown subscriber" and purpose is Purpose.UNSUBSCRIBE and method == "POST":
            # Unsubscribing someone who no longer exists is already done.
            assert response.status_code == 200, label
            continue
        assert response.status_code in (400, 404), (label, response.status_code)
        if response.status_code == 400:
            assert "This link is not valid" in response.text, label
    after = site.row("ada@example.org")
    assert before is not None and after is not None
    assert (after.status, after.updated_at) == (before.status, before.updated_at)
    assert site.mails == []


@pytest.mark.parametrize("purpose", [Purpose.CONFIRM, Purpose.MANAGE, Purpose.FEEDBACK])
def test_expired_tokens_get_a_410_page_and_change_nothing(
    site: Site, pending: str, purpose: Purpose
) -> None:
    # Unsubscribe links never expire (tests/test_web_unsubscribe.py).
    age = {Purpose.CONFIRM: 3.1, Purpose.MANAGE: 181, Purpose.FEEDBACK: 181}.get(purpose, 366)
    path = ROUTES[purpose].format(expired_token(purpose, pending, age_days=age))
    client = site.client()
    token = csrf_token(client.get("/").text)
    assert client.get(path).status_code == 410
    if purpose is Purpose.EDITION:
        return  # a read-only page: no POST to refuse
    response = client.post(path, data={"csrf_token": token, "List-Unsubscribe": "One-Click"})
    assert response.status_code == 410
    assert "expired" in response.text
    assert site.status("ada@example.org") == "pending"


def test_a_confirmation_link_works_for_three_days(site: Site, pending: str) -> None:
    fresh_enough = expired_token(Purpose.CONFIRM, pending, age_days=2.9)
    assert _confirm(site, f"/confirm/{fresh_enough}")[0] == 200
    assert site.status("ada@example.org") == "active"


def test_links_signed_with_a_retired_key_still_work_after_rotation(sites: Sites) -> None:
    rotated = sites(site={"secret_key": ["brand-new-key-abcdefghijklmnopqrstuvwxyz", TEST_SECRET]})
    public_id = rotated.add("ada@example.org", status="pending")
    old_link = expired_token(Purpose.CONFIRM, public_id, age_days=0)  # signed with TEST_SECRET
    assert _confirm(rotated, f"/confirm/{old_link}")[0] == 200
    assert rotated.status("ada@example.org") == "active"
    # New links are signed with the newest key, which the old configuration cannot read.
    from digest.app.tokens import Signer

    new_link = rotated.token(Purpose.MANAGE, public_id)
    with pytest.raises(Exception, match="not valid"):
        Signer([TEST_SECRET]).verify(Purpose.MANAGE, new_link)


def test_an_address_suppressed_after_signing_up_cannot_be_confirmed(site: Site) -> None:
    from digest.store.schema import SuppressionRow

    public_id = site.add("ada@example.org", status="pending")
    with site.store.session() as session:
        # A complaint lands on the suppression list; the pending row itself is untouched.
        session.add(
            SuppressionRow(email_key="ada@example.org", reason="complaint", created_at=site.clock())
        )
    status, html = _confirm(site, f"/confirm/{site.token(Purpose.CONFIRM, public_id)}")
    assert status == 200 and "cannot be confirmed" in html
    assert "Confirm my subscription" not in html
    assert site.status("ada@example.org") == "pending"


def test_a_double_click_on_confirm_activates_once_and_welcomes_once(site: Site) -> None:
    from concurrent.futures import ThreadPoolExecutor

    public_id = site.add("ada@example.org", status="pending")
    path = f"/confirm/{site.token(Purpose.CONFIRM, public_id)}"
    client = site.client()
    token = csrf_token(client.get(path).text)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(lambda _: client.post(path, data={"csrf_token": token}).status_code, range(4))
        )
    assert statuses == [200] * 4
    assert site.status("ada@example.org") == "active"
    assert [m.message["Subject"] for m in site.mails] == ["Welcome to Papers Digest"]

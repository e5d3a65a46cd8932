"""Leaving: a one-button page, an immediate idempotent POST, and RFC 8058 one-click from mail."""

from __future__ import annotations

import httpx
import pytest

from digest.app.tokens import Purpose, digest_links
from tests.websupport import Site, links_in, subscribe_form


@pytest.fixture
def path(site: Site) -> str:
    public_id = site.add("ada@example.org", status="active")
    return f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, public_id)}"


def test_opening_the_link_shows_one_button_and_changes_nothing(site: Site, path: str) -> None:
    page = site.client().get(path)
    assert page.status_code == 200
    assert page.text.count("<button") == 1 and 'method="post"' in page.text
    assert site.status("ada@example.org") == "active"
    assert site.client().head(path).status_code == 200
    assert site.status("ada@example.org") == "active"


def test_pressing_the_button_unsubscribes_at_once(site: Site, path: str) -> None:
    response = site.client().post(path)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert 'href="/"' in response.text  # the way back
    row = site.row("ada@example.org")
    assert row is not None and row.status == "unsubscribed" and row.unsubscribed_at == site.clock()


def test_unsubscribing_twice_is_harmless(site: Site, path: str) -> None:
    site.client().post(path)
    first = site.row("ada@example.org").unsubscribed_at  # type: ignore[union-attr]
    site.clock.advance(days=1)
    again = site.client().post(path)
    assert again.status_code == 200
    assert site.row("ada@example.org").unsubscribed_at == first  # type: ignore[union-attr]
    assert "already unsubscribed" in site.client().get(path).text


def test_a_bounced_address_stays_bounced(site: Site) -> None:
    public_id = site.add("gone@example.org", status="bounced")
    assert (
        site.client().post(f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, public_id)}").status_code
        == 200
    )
    assert site.status("gone@example.org") == "bounced"


def test_rfc8058_one_click_post_needs_no_cookie_or_csrf_and_does_not_redirect(
    site: Site, path: str
) -> None:
    response = site.client().post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert "location" not in response.headers
    assert site.status("ada@example.org") == "unsubscribed"


def test_one_click_over_real_http_with_the_link_a_digest_carries(site: Site) -> None:
    public_id = site.add("grace@example.org", status="active")
    # The very URL the delivery layer writes into List-Unsubscribe.
    url = digest_links(site.settings, site.signer, public_id).unsubscribe
    path = url.removeprefix(site.settings.site.base_url)
    with httpx.Client(base_url=site.base_url) as mail_client:
        response = mail_client.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
        assert not response.history and "cookie" not in response.request.headers
        multipart = mail_client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
        assert multipart.status_code == 200
    assert site.status("grace@example.org") == "unsubscribed"


def test_after_unsubscribing_signing_up_again_asks_for_confirmation(site: Site, path: str) -> None:
    site.client().post(path)
    client = site.client()
    client.post("/subscribe", data=subscribe_form(client))
    assert site.status("ada@example.org") == "pending"
    assert links_in(site.mails[0])[0].startswith("/confirm/")


def test_a_subscriber_deleted_since_the_mail_counts_as_unsubscribed(site: Site) -> None:
    ghost = f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, 'deleted-long-ago')}"
    assert site.client().post(ghost, content=b"List-Unsubscribe=One-Click").status_code == 200
    assert site.client().get(ghost).status_code == 400


def test_a_manage_token_cannot_unsubscribe(site: Site) -> None:
    public_id = site.add("ada@example.org", status="active")
    response = site.client().post(f"/unsubscribe/{site.token(Purpose.MANAGE, public_id)}")
    assert response.status_code == 400
    assert site.status("ada@example.org") == "active"


def test_a_two_year_old_unsubscribe_link_still_works_over_http(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    import types

    import itsdangerous.timed

    public_id = site.add("old@example.org", status="active")
    then = time.time() - 2 * 365 * 24 * 3600
    with monkeypatch.context() as patched:
        patched.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: then))
        token = site.token(Purpose.UNSUBSCRIBE, public_id)
    response = site.client().post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert site.status("old@example.org") == "unsubscribed"

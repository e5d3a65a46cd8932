"""The operator's pages over HTTP: absent without a password, behind HTTP Basic with one;
readers searched and filtered page by page, a reader's history with the server's answers,
unsubscribe / remove / lift as CSRF-protected POSTs, editions with their delivery counts."""

from __future__ import annotations

import re

import pytest

from tests.adminsupport import ADMIN_PASSWORD, AUTH, admin_client, populate
from tests.websupport import Sites, csrf_token

PAGES = ["/admin", "/admin/editions", "/admin/suppressions", "/admin/ingest", "/metrics"]


@pytest.mark.parametrize("path", PAGES)
def test_without_a_password_the_pages_do_not_exist(sites: Sites, path: str) -> None:
    site = sites()
    response = site.client(auth=AUTH).get(path)
    assert response.status_code == 404


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(
    "auth", [None, ("admin", "wrong-password-123"), ("root", ADMIN_PASSWORD)], ids=str
)
def test_with_a_password_they_ask_for_it(
    sites: Sites, path: str, auth: tuple[str, str] | None
) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    response = admin_client(site, auth=auth).get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "ada@" not in response.text


def test_a_short_password_is_refused_at_start(make_settings) -> None:  # type: ignore[no-untyped-def]
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[admin\] password"):
        make_settings(admin={"password": "short"})


def test_readers_are_listed_with_counts_search_and_status(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    populate(site)
    client = admin_client(site)
    everyone = client.get("/admin")
    assert everyone.status_code == 200
    assert everyone.headers["cache-control"] == "no-store"
    for address in ("ada@example.org", "bob@example.org", "eve@example.org", "zoe@example.org"):
        assert address in everyone.text
    assert re.search(r"active <strong>2</strong>", everyone.text)
    assert re.search(r"bounced <strong>1</strong>", everyone.text)
    found = client.get("/admin", params={"q": "BOB"})
    assert "bob@example.org" in found.text and "ada@example.org" not in found.text
    pending = client.get("/admin", params={"status": "pending"})
    assert "eve@example.org" in pending.text and "ada@example.org" not in pending.text


def test_a_search_for_a_wildcard_is_literal(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    populate(site)
    assert "No subscriber matches" in admin_client(site).get("/admin", params={"q": "%"}).text


def test_readers_come_in_pages_newest_first(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    for n in range(120):
        site.add(f"reader{n:03d}@example.org")
    client = admin_client(site)
    seen: list[str] = []
    url: str | None = "/admin"
    while url:
        page = client.get(url)
        addresses = re.findall(r"reader\d{3}@example\.org", page.text)
        assert len(addresses) <= 50
        seen.extend(addresses)
        more = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == [f"reader{n:03d}@example.org" for n in reversed(range(120))]


def test_user_text_is_escaped(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    from digest.models import Topic

    site.add("mal@example.org", topics=(Topic("<script>alert(1)</script>", "x <b>y</b>"),))
    client = admin_client(site)
    listing = client.get("/admin", params={"q": "<script>"})
    assert "<script>" not in listing.text.split("<main", 1)[1]
    public_id = re.search(r'/admin/subscribers/([^"]+)"', client.get("/admin").text)
    assert public_id
    detail = client.get(f"/admin/subscribers/{public_id.group(1)}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "<script>alert" not in detail.text


def test_a_readers_page_shows_topics_and_the_servers_answers(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    ids = populate(site)
    client = admin_client(site)
    bob = client.get(f"/admin/subscribers/{ids['bob']}")
    assert bob.status_code == 200
    assert "LLMs" in bob.text and "<code>llm</code>" in bob.text
    assert bob.text.count("421 4.7.0 try again later") >= 3
    # The `digest why` answer for today's edition, on the page.
    why = bob.text.split('id="why">', 1)[1].split("</ul>", 1)[0]
    assert "2026-03-02" in why and "deferred" in why
    gone = client.get(f"/admin/subscribers/{ids['bounced']}")
    assert "550 5.1.1 no such user" in gone.text and "yes: 550" in gone.text
    assert client.get("/admin/subscribers/not-a-reader").status_code == 404


def test_unsubscribe_needs_the_form_token_and_then_works(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    ids = populate(site)
    client = admin_client(site)
    action = f"/admin/subscribers/{ids['ada']}/unsubscribe"
    forged = client.post(action, data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert site.status("ada@example.org") == "active"
    page = client.get(f"/admin/subscribers/{ids['ada']}")
    done = client.post(action, data={"csrf_token": csrf_token(page.text)})
    assert done.status_code == 200
    assert "The reader is unsubscribed." in done.text
    assert site.status("ada@example.org") == "unsubscribed"


def test_a_cross_site_post_is_refused(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    ids = populate(site)
    client = admin_client(site)
    token = csrf_token(client.get(f"/admin/subscribers/{ids['ada']}").text)
    refused = client.post(
        f"/admin/subscribers/{ids['ada']}/unsubscribe",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example.net"},
    )
    assert refused.status_code == 403
    assert site.status("ada@example.org") == "active"


def test_remove_erases_the_reader_and_keeps_a_bounce_suppressed(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    ids = populate(site)
    client = admin_client(site)
    token = csrf_token(client.get(f"/admin/subscribers/{ids['ada']}").text)
    unconfirmed = client.post(f"/admin/subscribers/{ids['ada']}/remove", data={"csrf_token": token})
    assert unconfirmed.status_code == 200 and site.row("ada@example.org") is not None
    for who in ("ada", "bounced"):
        answer = client.post(
            f"/admin/subscribers/{ids[who]}/remove", data={"csrf_token": token, "confirm": "yes"}
        )
        assert "The reader and their history are erased." in answer.text
    assert site.row("ada@example.org") is None and site.row("gone@example.org") is None
    listed = client.get("/admin/suppressions").text
    assert "gone@example.org" in listed and "ada@example.org" not in listed
    assert "ada@example.org" not in client.get("/admin").text


def test_editions_show_their_delivery_counts(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    populate(site)
    page = admin_client(site).get("/admin/editions").text
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>((?:<td>\d+</td>)+)</tr>", page)
    table = {day: [int(n) for n in re.findall(r"\d+", cells)] for day, cells in rows}
    # columns: sent, deferred, failed, bounced, skipped, queued
    assert table == {
        "2026-03-02": [1, 1, 0, 1, 0, 0],
        "2026-03-01": [1, 1, 0, 0, 0, 0],
        "2026-02-28": [1, 1, 0, 0, 0, 0],
    }


def test_a_suppression_can_be_lifted(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    populate(site)
    client = admin_client(site)
    page = client.get("/admin/suppressions")
    assert "gone@example.org" in page.text and "550 5.1.1 no such user" in page.text
    lifted = client.post(
        "/admin/suppressions/lift",
        data={"csrf_token": csrf_token(page.text), "email": "Gone@Example.org"},
    )
    assert "The suppression is lifted and the reader is active again." in lifted.text
    assert "gone@example.org" not in lifted.text.split("</h1>", 1)[1].split("<table", 1)[0]
    assert site.status("gone@example.org") == "active"
    again = client.post(
        "/admin/suppressions/lift",
        data={"csrf_token": csrf_token(page.text), "email": "gone@example.org"},
    )
    assert "That address was not suppressed." in again.text


def test_ingest_history_shows_each_source_and_its_error(sites: Sites, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from digest.app.ingest import ingest
    from digest.errors import SourceError
    from tests.conftest import ROOT

    site = sites(admin={"password": ADMIN_PASSWORD})
    sample = str(ROOT / "digest" / "samples" / "daily-papers-sample.txt")
    ingest(site.store, [sample], now=site.clock())
    missing = str(tmp_path / "missing <b>feed</b>.txt")
    with pytest.raises(SourceError):
        ingest(site.store, [missing], now=site.clock())
    page = admin_client(site).get("/admin/ingest").text
    assert "daily-papers-sample.txt" in page
    assert "missing &lt;b&gt;feed&lt;/b&gt;.txt" in page and "<b>feed" not in page
    one = admin_client(site).get("/admin/ingest", params={"source": sample}).text
    assert "Runs of" in one and one.count("<td>" + sample + "</td>") == 1


def test_guessing_the_password_is_stopped(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    guesser = admin_client(site, auth=("admin", "not-the-password"))
    answers = [guesser.get("/admin").status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]
    # Even the right password waits out the minute, else guessing would simply go on…
    right = admin_client(site)
    blocked = right.get("/admin")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # …and after it, the operator is in.
    site.clock.advance(seconds=61)
    assert right.get("/admin").status_code == 200


@pytest.mark.parametrize(
    ("path", "before", "message"),
    [
        (
            "/admin/editions",
            "last-week",
            "before: expected a date as YYYY-MM-DD, got &#39;last-week&#39;",
        ),
        ("/admin", "12x", "before: expected a reader number, got &#39;12x&#39;"),
    ],
)
def test_a_cursor_that_does_not_parse_is_a_400_naming_it(
    sites: Sites, path: str, before: str, message: str
) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    response = admin_client(site).get(path, params={"before": before})
    assert response.status_code == 400
    assert message in response.text

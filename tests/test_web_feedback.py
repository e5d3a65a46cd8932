""" "More like this" / "less like this": a link opens a page, only its POST records the rating."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from digest.app.tokens import Purpose, digest_links, sign_feedback
from digest.store.ratings import ratings_for
from digest.store.subscribers import get_row_by_email
from tests.websupport import Site, csrf_token, expired_token, paper

READER = "ada@example.org"


@pytest.fixture
def public_id(site: Site) -> str:
    site.add_papers([paper("p1", "Speculative decoding with draft trees")])
    return site.add(READER, status="active")


def held(site: Site) -> dict[str, str]:
    with site.store.session() as session:
        row = get_row_by_email(session, READER)
        assert row is not None
        return {r.paper.id: r.rating for r in ratings_for(session, row.id)}


def link(site: Site, public_id: str, rating: str = "up") -> str:
    """The path of the link a digest carries for this reader and paper."""
    url = digest_links(site.settings, site.signer, public_id, ["p1"]).feedback["p1"]
    full = url.more if rating == "up" else url.less
    assert full.startswith(site.settings.site.base_url + "/feedback/")
    return full.removeprefix(site.settings.site.base_url)


def test_opening_the_link_changes_nothing_and_offers_one_self_submitting_form(
    site: Site, public_id: str
) -> None:
    page = site.client().get(link(site, public_id))
    assert page.status_code == 200
    assert page.text.count("<button") == 1
    assert 'method="post"' in page.text and 'data-autosubmit="feedback"' in page.text
    assert "Speculative decoding with draft trees" in page.text
    assert site.client().head(link(site, public_id)).status_code == 200
    assert held(site) == {}


@pytest.mark.parametrize("rating", ["up", "down"])
def test_the_post_records_the_rating_the_link_names(
    site: Site, public_id: str, rating: str
) -> None:
    client = site.client()
    path = link(site, public_id, rating)
    token = csrf_token(client.get(path).text)
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "Thanks, noted" in done.text
    assert "/preferences/" in done.text  # where to undo it
    assert held(site) == {"p1": rating}
    client.post(path, data={"csrf_token": token})  # a second click is harmless
    assert held(site) == {"p1": rating}


def test_a_later_click_on_the_other_link_replaces_the_rating(site: Site, public_id: str) -> None:
    client = site.client()
    for rating in ("up", "down"):
        path = link(site, public_id, rating)
        client.post(path, data={"csrf_token": csrf_token(client.get(path).text)})
    assert held(site) == {"p1": "down"}


def test_the_post_needs_the_csrf_field(site: Site, public_id: str) -> None:
    client = site.client()
    path = link(site, public_id)
    client.get(path)
    assert client.post(path, data={"csrf_token": "0" * 64}).status_code != 200
    assert held(site) == {}


def test_forged_expired_and_other_purpose_tokens_are_refused(site: Site, public_id: str) -> None:
    client = site.client()
    token, query = link(site, public_id).split("?")
    forged = f"{token[:-3]}AAA?{query}"
    manage = f"/feedback/{site.token(Purpose.MANAGE, public_id)}?rating=up"
    value = "\n".join((public_id, "p1"))
    old = f"/feedback/{expired_token(Purpose.FEEDBACK, value, age_days=400)}?rating=up"
    for path in (forged, manage, old):
        assert client.get(path).status_code in (400, 410)  # 410: expired
        assert client.post(path, data={"csrf_token": "0" * 64}).status_code != 200
    assert held(site) == {}


@pytest.mark.parametrize("query", ["", "?rating=sideways", "?rating=clear", "?rating="])
def test_a_link_without_a_rating_it_may_record_is_refused(
    site: Site, public_id: str, query: str
) -> None:
    client = site.client()
    path = link(site, public_id).split("?")[0] + query
    assert client.get(path).status_code == 400
    token = csrf_token(client.get(link(site, public_id)).text)
    assert client.post(path, data={"csrf_token": token}).status_code == 400
    assert held(site) == {}


def test_one_signature_serves_both_links_of_a_paper_and_no_other_paper(site: Site) -> None:
    links = digest_links(site.settings, site.signer, "reader-1", ["p1", "p2"]).feedback
    assert links["p1"].more.split("?") == [links["p1"].less.split("?")[0], "rating=up"]
    assert links["p1"].less.endswith("?rating=down")
    assert links["p1"].more.split("?")[0] != links["p2"].more.split("?")[0]


@pytest.mark.parametrize("rating", ["up", "down"])
def test_links_mailed_with_the_rating_signed_keep_recording_that_rating(
    site: Site, public_id: str, rating: str
) -> None:
    client = site.client()
    value = "\n".join((public_id, "p1", rating))
    path = f"/feedback/{site.signer.sign_once(Purpose.FEEDBACK, value)}"
    token = csrf_token(client.get(path).text)
    other = "down" if rating == "up" else "up"
    done = client.post(f"{path}?rating={other}", data={"csrf_token": token})
    assert done.status_code == 200
    assert held(site) == {"p1": rating}  # the signed rating, not the unsigned one


def test_a_link_for_a_paper_or_reader_that_is_gone_is_refused(site: Site, public_id: str) -> None:
    path = f"/feedback/{sign_feedback(site.signer, public_id, 'no-such-paper')}?rating=up"
    assert site.client().get(path).status_code == 400
    ghost = f"/feedback/{sign_feedback(site.signer, 'deleted-reader', 'p1')}?rating=up"
    assert site.client().get(ghost).status_code == 400


def test_every_paper_of_a_digest_carries_both_links_in_both_parts(site: Site) -> None:
    from datetime import date

    from digest.deliver.message import compose
    from digest.models import Edition, Match, Profile, Subscriber
    from digest.render import Renderer

    subscriber = Subscriber(1, "reader-1", "active", Profile(email=READER))
    papers = (paper("p1", "First paper"), paper("p2", "Second paper"))
    edition = Edition(subscriber, date(2026, 12, 1), tuple(Match(p, 0.5) for p in papers))
    links = digest_links(site.settings, site.signer, "reader-1", ["p1", "p2"])
    message = compose(
        edition, site.settings, links, renderer=Renderer(site.settings), now=site.clock()
    )
    parsed = message_from_bytes(message.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    for pid in ("p1", "p2"):
        entry = links.feedback[pid]
        assert f"More like this:\r\n   {entry.more}" in text.get_content()
        assert f"Less like this:\r\n   {entry.less}" in text.get_content()
        assert f'href="{entry.more}"' in html.get_content()
        assert f'href="{entry.less}"' in html.get_content()


def test_the_preferences_page_lists_ratings_and_undoes_one(site: Site, public_id: str) -> None:
    client = site.client()
    path = link(site, public_id, "down")
    client.post(path, data={"csrf_token": csrf_token(client.get(path).text)})
    manage = f"/preferences/{site.token(Purpose.MANAGE, public_id)}"
    page = client.get(manage).text
    assert "Your ratings" in page
    assert "Less like this" in page and "Speculative decoding with draft trees" in page
    undone = client.post(f"{manage}/ratings", data={"csrf_token": csrf_token(page), "paper": "p1"})
    assert undone.status_code == 200
    assert held(site) == {}
    assert "You have not rated any paper yet" in undone.text


def test_undo_needs_the_csrf_field(site: Site, public_id: str) -> None:
    client = site.client()
    path = link(site, public_id)
    client.post(path, data={"csrf_token": csrf_token(client.get(path).text)})
    manage = f"/preferences/{site.token(Purpose.MANAGE, public_id)}"
    client.post(f"{manage}/ratings", data={"csrf_token": "0" * 64, "paper": "p1"})
    assert held(site) == {"p1": "up"}

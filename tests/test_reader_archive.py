""" "View in browser" and the size guard: a reader's digest as mailed, whatever its length.

Gmail clips an HTML part past about 102 KB and the clipped part is the footer; so a mail shows
the papers that fit and counts the rest, linking to the browser view, which shows them all from
the ledger's record of what the edition carried.
"""

from __future__ import annotations

import re
from datetime import date
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

from digest.app.tokens import edition_token
from digest.models import Topic
from digest.store import Store
from tests.delivery_support import NOW, TODAY, add_readers, ingest, paper, send
from tests.smtpd import Received
from tests.websupport import Site, Sites

BROWSER = re.compile(r"View this digest in your browser:\r?\n(\S+)")


def _parts(received: Received) -> tuple[str, str]:
    message: EmailMessage = received.message
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _browser_path(text: str) -> str:
    found = BROWSER.search(text)
    assert found, "the text part links the browser view"
    return urlsplit(found.group(1)).path


def _mail_one(site: Site, store: Store, papers: int, max_papers: int) -> Received:
    ingest(store, [paper(n) for n in range(papers)])
    add_readers(store, 1, max_papers=max_papers)
    summary, _ = send(store, site.settings, now=NOW)
    assert summary.sent == 1
    [received] = site.mails
    return received


def test_the_browser_view_shows_the_digest_as_mailed(site: Site, store: Store) -> None:
    received = _mail_one(site, store, papers=6, max_papers=10)
    text, html = _parts(received)
    first_title = re.search(r'<h2 class="title"[^>]*><a [^>]*>(.*?)</a></h2>', html)
    assert first_title
    title = unescape(re.sub(r"<[^>]+>", "", first_title.group(1)))
    # Papers ingested after the send are not part of what was mailed.
    ingest(store, [paper(50, title="Speculative decoding, a later paper")], at=NOW)
    page = site.client().get(_browser_path(text))
    assert page.status_code == 200
    shown = unescape(page.text)
    assert title in shown
    assert "a later paper" not in shown
    assert shown.count('<h2 class="title"') == html.count('<h2 class="title"')
    assert shown.count("More like this") == html.count("More like this") > 0
    assert shown.count("Less like this") == html.count("Less like this") > 0
    assert "script-src" not in page.headers["content-security-policy"]


def test_a_hundred_paper_digest_stays_unclipped_and_the_browser_shows_every_paper(
    site: Site, store: Store
) -> None:
    received = _mail_one(site, store, papers=100, max_papers=100)
    text, html = _parts(received)
    assert len(html.encode("utf-8")) < 100_000
    shown = html.count('<h2 class="title"')
    assert 0 < shown < 100
    more = re.search(r"(\d+) more papers matched your topics\. <a href=\"([^\"]+)\"", html)
    assert more and int(more.group(1)) == 100 - shown
    for footer in ("Unsubscribe</a>", "Manage your topics", site.settings.sender.postal_address):
        assert footer in html[-2500:], footer
    assert urlsplit(unescape(more.group(2))).path == _browser_path(text)
    # Both parts list the same papers (parts that differ read as spam), and say how many more.
    assert text.count(f"\n{shown}. ") == 1 and f"\n{shown + 1}. " not in text
    assert f"{100 - shown} more papers matched your topics." in text
    page = site.client().get(_browser_path(text))
    assert page.status_code == 200
    assert page.text.count('<h2 class="title"') == 100


def test_an_edition_never_sent_is_not_found_and_a_forged_token_is_refused(
    site: Site, store: Store
) -> None:
    public_id = site.add("ada@example.org")
    client = site.client()
    unsent = edition_token(site.signer, public_id, TODAY)
    assert client.get(f"/editions/{unsent}").status_code == 404
    forged = edition_token(site.signer, public_id, date(2026, 1, 1))[:-2] + "xx"
    assert client.get(f"/editions/{forged}").status_code == 400


def test_the_browser_view_gives_the_reasons_the_operators_aliases_gave_the_mail(
    sites: Sites, store: Store, tmp_path: Path
) -> None:
    aliases = tmp_path / "aliases.txt"
    aliases.write_text("sd, speculative decoding\n", encoding="utf-8")
    site = sites(match={"aliases_file": str(aliases)})
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 1, topics=(Topic("Shorthand", "sd"),))
    summary, _ = send(store, site.settings, now=NOW)
    assert summary.sent == 1
    [received] = site.mails
    text, html = _parts(received)
    assert "Matched: speculative decoding" in html
    page = site.client().get(_browser_path(text))
    assert page.status_code == 200
    assert unescape(page.text).count("Matched: ") == unescape(html).count("Matched: ")

"""Deliverability: SpamAssassin (offline rules) scores a complete demo digest well below 1.0.

The digest is the real thing: the bundled sample page ingested, the example subscribers
imported, the edition built, rendered and sent through the pool into a local server; the bytes
the server received are what SpamAssassin reads.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import resources

import pytest

from digest.app.ingest import ingest
from digest.profiles import load_profiles
from digest.store import Store
from digest.store.subscribers import import_profile
from tests.conftest import ROOT, require
from tests.delivery_support import NOW, add_readers, paper, send, smtp_settings
from tests.delivery_support import ingest as ingest_papers
from tests.smtpd import SmtpServer

SENDER = {
    "from_address": "digest@papers-digest.org",
    "from_name": "Papers Digest",
    "reply_to": "editors@papers-digest.org",
    "list_id": "daily.papers-digest.org",
    "unsubscribe_mailto": "unsubscribe@papers-digest.org",
}


def spam_score(message: bytes, *rules: str) -> tuple[float, str]:
    done = subprocess.run(
        ["spamassassin", "-L", "--cf=use_bayes 0", *(f"--cf={rule}" for rule in rules)],
        input=message,
        capture_output=True,
        timeout=120,
        check=True,
    )
    head = done.stdout.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: (.*(?:\n[ \t].*)*)", head, re.MULTILINE)
    assert status, head
    text = " ".join(status.group(1).split())
    score = re.search(r"score=(-?\d+(?:\.\d+)?)", text)
    assert score, text
    return float(score.group(1)), text


def test_a_complete_demo_digest_scores_below_one(
    store: Store, make_settings, smtp_server: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    require(shutil.which("spamassassin") is not None, "SpamAssassin (Debian package spamassassin)")
    now = datetime.now(UTC)
    with resources.as_file(
        resources.files("digest") / "samples" / "daily-papers-sample.txt"
    ) as page:
        ingest(store, [str(page)], now=now)
    with store.session() as session:
        for profile in load_profiles(ROOT / "subscribers" / "ada-inference.toml"):
            import_profile(session, profile, now)
    settings = smtp_settings(
        make_settings,
        smtp_server.port,
        sender=SENDER,
        site={"base_url": "https://papers-digest.org"},
    )
    summary, _ = send(store, settings, now=now)
    assert summary.sent == 1
    [received] = smtp_server.messages
    assert b"Date: " in received.data
    score, status = spam_score(received.data)
    assert score < 1.0, status


@pytest.mark.parametrize("papers", [10, 25, 100])
def test_digests_of_any_length_score_at_most_zero_without_the_list_bonus(
    store: Store, make_settings, smtp_server: SmtpServer, papers: int
) -> None:  # type: ignore[no-untyped-def]
    """MAILING_LIST_MULTI (-1.0, for the list headers) is scored 0 here: the digest must stand
    on its own (no low-contrast preheader, no words split by tags, no Date in the past)."""
    require(shutil.which("spamassassin") is not None, "SpamAssassin (Debian package spamassassin)")
    ingest_papers(store, [paper(n) for n in range(papers)])
    add_readers(store, 1, max_papers=papers)
    settings = smtp_settings(
        make_settings,
        smtp_server.port,
        sender=SENDER,
        site={"base_url": "https://papers-digest.org"},
    )
    summary, _ = send(store, settings, now=NOW)
    assert summary.sent == 1
    [received] = smtp_server.messages
    score, status = spam_score(received.data, "score MAILING_LIST_MULTI 0")
    assert score <= 0.0, status

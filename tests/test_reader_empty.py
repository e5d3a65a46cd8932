"""An empty edition says why it is empty, and the operator hears when the sources gave nothing.

With `[digest] send_empty = true` a reader with nothing new still gets a short mail; silence or
an unexplained empty mail is what readers of self-hosted digests complain of most. The one
sentence tells apart: no new papers at all, new papers none of which matched, and matches that
fell below the reader's minimum upvotes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import run
from digest.models import Paper
from digest.store import Store
from tests.conftest import TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper, send, smtp_settings
from tests.smtpd import SmtpServer

NO_PAPERS = "No new papers came in since your last digest."


def off_topic(n: int) -> Paper:
    return Paper(id=f"2511.9{n:04d}", title=f"Protein folding {n}", abstract="Cells.", upvotes=90)


def _only_mail(smtp_server: SmtpServer) -> tuple[str, str]:
    [received] = smtp_server.messages
    text = received.message.get_body(("plain",))
    html = received.message.get_body(("html",))
    assert text is not None and html is not None
    return " ".join(text.get_content().split()), html.get_content()


@pytest.fixture
def settings(make_settings, smtp_server: SmtpServer):  # type: ignore[no-untyped-def]
    return smtp_settings(make_settings, smtp_server.port, digest={"send_empty": True})


def test_no_new_papers_at_all_is_said_and_logged_as_a_warning(
    store: Store,
    settings,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    add_readers(store, 1)
    with caplog.at_level(logging.WARNING, logger="digest"):
        assert send(store, settings)[0].sent == 1
    text, html = _only_mail(smtp_server)
    assert NO_PAPERS.lower()[1:] in text and NO_PAPERS.lower()[1:] in html
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("sources returned no new papers" in r.getMessage() for r in warnings)


def test_new_papers_none_of_which_matched(
    store: Store,
    settings,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [off_topic(n) for n in range(3)])
    add_readers(store, 1, trending=False)
    with caplog.at_level(logging.WARNING, logger="digest"):
        assert send(store, settings)[0].sent == 1
    text, _ = _only_mail(smtp_server)
    assert "none of the 3 new papers since your last digest matched your topics." in text
    assert not any("sources returned" in r.getMessage() for r in caplog.records)


def test_matches_below_the_minimum_upvotes_are_counted(
    store: Store, settings, smtp_server: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    ingest(store, [paper(n, upvotes=1) for n in range(2)] + [off_topic(1)])
    add_readers(store, 1, min_upvotes=50)
    assert send(store, settings)[0].sent == 1
    text, html = _only_mail(smtp_server)
    sentence = "2 new papers matched your topics but had fewer than 50 upvotes"
    assert sentence in text and sentence in html


def test_digest_send_warns_on_stderr_when_the_sources_gave_nothing(
    store: Store, db_url: str, tmp_path: Path, smtp_server: SmtpServer, capsys
) -> None:  # type: ignore[no-untyped-def]
    add_readers(store, 1)
    old = datetime.now(UTC) - timedelta(days=60)
    ingest(store, [paper(1)], at=old)  # long before any window: nothing new
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[smtp]\nport = {smtp_server.port}\n'
        f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n'
        "[digest]\nsend_empty = true\n",
        encoding="utf-8",
    )
    assert run(["--config", str(config), "send"]) == 0
    err = capsys.readouterr().err
    assert "sources returned no new papers" in err
    text, _ = _only_mail(smtp_server)
    assert NO_PAPERS.lower()[1:] in text

"""`digest stats`: what an operator checks first, from a real store after a real send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import run
from digest.store import Store
from digest.store.schema import SubscriberRow
from digest.store.subscribers import email_key, get_row_by_email, set_status
from tests.conftest import TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper
from tests.ingest_support import TEXT_PAGE
from tests.smtpd import SmtpServer


@pytest.fixture
def config(store: Store, db_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Path:
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 3)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[smtp]\nport = {smtp_server.port}\n'
        f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n',
        encoding="utf-8",
    )
    return path


def _json(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert run(["--config", str(config), *args, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def test_a_fresh_database_has_every_status_at_zero(
    config: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with store.session() as session:
        session.query(SubscriberRow).delete()
    assert _json(config, capsys, "stats") == {
        "subscribers": {"pending": 0, "active": 0, "unsubscribed": 0, "bounced": 0},
        "editions": [],
        "sources": [],
    }


def test_stats_after_an_ingest_and_a_send(
    config: Path, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.txt"
    page.write_text(TEXT_PAGE, encoding="utf-8")
    _json(config, capsys, "ingest", str(page))
    assert run(["--config", str(config), "ingest", str(tmp_path / "gone.txt")]) == 2
    capsys.readouterr()
    with store.session() as session:
        row = get_row_by_email(session, "reader2@example.org")
        assert row is not None and email_key(row.email) == "reader2@example.org"
        set_status(session, row, "unsubscribed", datetime.now(UTC))
    sent = _json(config, capsys, "send")
    assert sent == {"sent": 2, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}

    stats = _json(config, capsys, "stats")
    assert isinstance(stats, dict)
    assert stats["subscribers"] == {"pending": 0, "active": 2, "unsubscribed": 1, "bounced": 0}
    today = datetime.now(UTC).date().isoformat()
    assert stats["editions"] == [
        {
            "edition": today,
            "sent": 2,
            "deferred": 0,
            "failed": 0,
            "bounced": 0,
            "skipped": 0,
            "queued": 0,
        }
    ]
    sources = {Path(s["source"]).name: s for s in stats["sources"]}
    assert set(sources) == {"page.txt", "gone.txt"}
    assert (sources["page.txt"]["parsed"], sources["page.txt"]["new"]) == (2, 2)
    assert sources["page.txt"]["error"] is None
    assert "no such file" in sources["gone.txt"]["error"]
    assert datetime.fromisoformat(sources["page.txt"]["last_ingest"]).tzinfo is not None


def test_human_output_names_each_part(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--config", str(config), "stats"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "subscribers: pending 0, active 3, unsubscribed 0, bounced 0"
    assert "editions: none sent yet" in out and "sources: never ingested" in out

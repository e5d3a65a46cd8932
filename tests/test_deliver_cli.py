"""`digest send` as an operator runs it: exit codes, --json, plain lines off a terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import run
from digest.store import Store
from tests.conftest import TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper
from tests.smtpd import SmtpServer


@pytest.fixture
def config(store: Store, db_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Path:
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 2)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[smtp]\nport = {smtp_server.port}\n'
        f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n',
        encoding="utf-8",
    )
    return path


def test_json_prints_exactly_the_five_counts(config: Path, smtp_server: SmtpServer, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["--config", str(config), "send", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"sent": 2, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}
    assert len(smtp_server.messages) == 2
    assert run(["--config", str(config), "send", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 0


def test_off_a_terminal_each_delivery_is_one_plain_line(config: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["--config", str(config), "send"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines[:2]) == [
        f"sent reader{n}@example.org edition {datetime.now(UTC).date().isoformat()}" for n in (0, 1)
    ]
    assert lines[2] == "sent 2, skipped 0, deferred 0, failed 0, bounced 0"


def test_a_dry_run_sends_nothing(config: Path, smtp_server: SmtpServer, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["--config", str(config), "send", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 2
    assert smtp_server.messages == []


def test_a_bad_date_is_a_one_line_user_error(config: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["--config", str(config), "send", "--date", "2026-13-01"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --date: expected a date as YYYY-MM-DD, got '2026-13-01'\n"


def test_a_missing_secret_key_is_a_user_error_and_sends_nothing(
    config: Path,
    smtp_server: SmtpServer,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    text = config.read_text(encoding="utf-8").replace(f'["{TEST_SECRET}"]', "[]")
    config.write_text(text, encoding="utf-8")
    assert run(["--config", str(config), "send", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: [site] secret_key is not set")
    assert smtp_server.messages == []

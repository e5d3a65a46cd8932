"""Failures that cron and monitors must see, and dry runs that say what they did not do:
`digest send` exits 75 when nothing was accepted, `--dry-run` says "would send",
`serve --once` catches up on a due ingest, `preview --serve` on a busy port is one line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from digest.cli import run
from digest.store import Store
from digest.store.ingest_runs import history
from digest.store.schema import IngestRunRow
from tests.conftest import TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper
from tests.ingest_support import TEXT_PAGE
from tests.smtpd import RecordingHandler, SmtpServer

NOT_ACCEPTED = 75


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def write_config(db_url: str, tmp_path: Path) -> Any:
    def write(port: int, extra: str = "") -> Path:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[database]\nurl = "{db_url}"\n'
            f"[smtp]\nport = {port}\nmax_attempts = 1\nretry_backoff = 0\ntimeout = 2\n"
            f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n'
            + extra,
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def readers(store: Store) -> None:
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 2)


def test_send_exits_75_when_the_server_is_down(
    readers: None, write_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(_closed_port())
    assert run(["--config", str(config), "send", "--json"]) == NOT_ACCEPTED
    captured = capsys.readouterr()
    assert json.loads(captured.out)["deferred"] == 2
    assert captured.err.count("error: ") == 1
    assert "no message was accepted (2 deferred)" in captured.err


def test_a_retry_after_the_server_was_down_is_not_called_a_takeover(
    readers: None, write_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(write_config(_closed_port())), "send"]) == NOT_ACCEPTED
    capsys.readouterr()
    with SmtpServer(RecordingHandler()) as server:
        assert run(["--config", str(write_config(server.port)), "send", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["sent"] == 2
    assert "taken over" not in captured.err  # deferred editions are retries; nobody died


def test_partial_success_exits_0(
    readers: None, write_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse_one(address: str) -> str | None:
        return "451 4.3.0 try later" if address.startswith("reader1@") else None

    with SmtpServer(RecordingHandler(rcpt_fault=refuse_one)) as server:
        config = write_config(server.port)
        assert run(["--config", str(config), "send", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["sent"], counts["deferred"]) == (1, 1)


def test_nothing_to_send_is_not_a_failure(
    write_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(_closed_port())
    assert run(["--config", str(config), "send", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deferred"] == 0


def test_a_dry_run_says_would_send(
    readers: None, write_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(_closed_port())
    assert run(["--config", str(config), "send", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines[:2]) == [
        f"would send reader{n}@example.org edition {datetime.now(UTC).date().isoformat()}"
        for n in (0, 1)
    ]
    assert lines[2] == (
        "dry run, nothing sent: would send 2, would skip 0, deferred 0, failed 0, bounced 0"
    )


def test_serve_once_ingests_when_the_ingest_is_due(
    store: Store, write_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.txt"
    page.write_text(TEXT_PAGE, encoding="utf-8")
    extra = (
        f'[ingest]\nsources = [{json.dumps(str(page))}]\n[schedule]\ningest_cron = "0 6 * * *"\n'
    )
    config = write_config(_closed_port(), extra)
    once = ["--config", str(config), "serve", "--once", "--no-web"]

    assert run(once) == 0  # never ingested: due
    assert run(once) == 0  # just ingested, the next 06:00 is ahead: not due
    with store.session() as session:
        runs = history(session)
    assert [(run.parsed, run.new) for run in runs] == [(2, 2)]

    # Two days later (the last run moved back), the 06:00 in between makes it due again.
    with store.session() as session:
        session.execute(
            update(IngestRunRow).values(started_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert run(once) == 0
    with store.session() as session:
        assert [(run.parsed, run.new) for run in history(session)] == [(2, 0), (2, 2)]
    assert "tick " in capsys.readouterr().err


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield int(taken.getsockname()[1])


def test_preview_serve_on_a_busy_port_is_one_line_and_exit_2(
    readers: None, write_config: Any, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(_closed_port())
    code = run(["--config", str(config), "preview", "--serve", "--port", str(busy_port)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: --port: cannot listen on 127.0.0.1:{busy_port} (")


def test_serve_once_exits_75_when_no_due_digest_got_through(
    store: Store, write_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    # Due now whatever the time of day: a send time a minute ago, in UTC.
    due_at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    add_readers(store, 1, send_time=due_at, timezone="UTC")
    config = write_config(_closed_port())
    code = run(["--config", str(config), "serve", "--once", "--no-web"])
    assert code == NOT_ACCEPTED
    assert "1 due; sent 0, skipped 0, deferred 1" in capsys.readouterr().err

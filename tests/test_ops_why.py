"""`digest why EMAIL`: the answer to "the job ran, no mail arrived", for a reader who was sent,
one who was deferred, one whose papers were all under their min_upvotes, one suppressed."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.cli import run
from digest.store import Store
from digest.store.subscribers import suppress
from tests.conftest import TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper
from tests.smtpd import SmtpServer

WHY_KEYS = {"email", "status", "edition", "state", "reasons"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Operator:
    """`digest` as the operator runs it, against one database and a mail server that may be
    up (`smtp_server`) or down (a port nobody listens on)."""

    def __init__(self, tmp_path: Path, db_url: str, port: int, capsys: Any) -> None:
        self.path = tmp_path / "config.toml"
        self.db_url = db_url
        self.capsys = capsys
        self.use(port)

    def use(self, port: int) -> None:
        self.path.write_text(
            f'[database]\nurl = "{self.db_url}"\n'
            f"[smtp]\nport = {port}\nmax_attempts = 1\nretry_backoff = 0\ntimeout = 2\n"
            f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n',
            encoding="utf-8",
        )

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = run(["--config", str(self.path), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def why(self, email: str, *args: str) -> dict[str, Any]:
        code, out, err = self("why", email, *args, "--json")
        assert (code, err) == (0, ""), err
        found = json.loads(out)
        assert isinstance(found, dict) and set(found) >= WHY_KEYS
        return found


@pytest.fixture
def operator(
    store: Store, db_url: str, tmp_path: Path, smtp_server: SmtpServer, capsys: Any
) -> Operator:
    """Three papers, then a send with the server up to: a reader who gets them, one who asks
    for more upvotes than any has, and one suppressed; then a reader who joined after, sent to
    while the server is down."""
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 1, start=0)
    add_readers(store, 1, start=1, min_upvotes=1000, trending=False)
    add_readers(store, 1, start=2)
    with store.session() as session:
        suppress(session, "reader2@example.org", "complaint: abuse report", datetime.now(UTC))
    ops = Operator(tmp_path, db_url, smtp_server.port, capsys)
    code, out, err = ops("send", "--json")
    assert code == 0, err
    assert json.loads(out)["sent"] == 1 and json.loads(out)["skipped"] == 1
    add_readers(store, 1, start=3)
    ops.use(_closed_port())
    ops("send", "--json")
    return ops


def test_a_reader_who_was_sent(operator: Operator) -> None:
    found = operator.why("reader0@example.org")
    assert found["status"] == "active" and found["state"] == "sent"
    assert found["delivery"]["status"] == "sent" and found["delivery"]["papers"] == 3
    assert (found["candidates"], found["matched"], found["papers"]) == (3, 3, 3)
    assert any(r.startswith("ledger: sent at ") for r in found["reasons"])
    assert "last SMTP answer: accepted (250) by the server" in found["reasons"]


def test_a_reader_who_was_deferred_sees_the_server_answer(operator: Operator) -> None:
    found = operator.why("reader3@example.org")
    assert found["state"] == "deferred"
    assert found["delivery"]["attempts"] == 1
    answer = found["last_smtp_answer"]
    assert answer and answer == found["delivery"]["last_error"]
    assert f"last SMTP answer: {answer}" in found["reasons"]
    assert any("the next run retries" in r for r in found["reasons"])


def test_a_reader_whose_papers_were_all_under_min_upvotes(operator: Operator) -> None:
    found = operator.why("reader1@example.org")
    assert found["state"] == "skipped"
    assert found["matched"] == 3 and found["filtered"] == {"min_upvotes": 3, "already_sent": 0}
    assert found["papers"] == 0
    assert (
        "3 filtered out by min_upvotes 1000 (fewer upvotes than the reader asks for)"
        in (found["reasons"])
    )
    assert "an empty edition is skipped ([digest] send_empty is off)" in found["reasons"]


def test_a_suppressed_reader(operator: Operator) -> None:
    found = operator.why("reader2@example.org")
    assert found["state"] == "suppressed"
    assert found["status"] == "bounced"
    assert found["suppression"]["reason"] == "complaint: abuse report"
    assert found["delivery"] is None
    assert any(r.startswith("suppressed since ") for r in found["reasons"])


def test_an_edition_nobody_sent_is_missed_or_due_by_the_catch_up_window(
    operator: Operator,
) -> None:
    old = operator.why("reader0@example.org", "--date", "2020-01-01")
    assert (old["edition"], old["state"], old["delivery"]) == ("2020-01-01", "missed", None)
    assert any("[schedule] catch_up_hours" in r for r in old["reasons"])
    future = operator.why("reader0@example.org", "--date", "2999-01-01")
    assert future["state"] == "scheduled"


def test_human_output_and_bad_input(operator: Operator) -> None:
    code, out, err = operator("why", "reader1@example.org")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("reader1@example.org: skipped (edition ")
    assert all(line.startswith("  - ") for line in lines[1:])
    code, out, err = operator("why", "nobody@example.org")
    assert (code, out) == (2, "")
    assert err == "error: no subscriber with the address 'nobody@example.org'\n"
    code, _, err = operator("why", "reader1@example.org", "--date", "tomorrow")
    assert code == 2 and err.count("\n") == 1 and "--date" in err

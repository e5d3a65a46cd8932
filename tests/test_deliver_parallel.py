"""Several senders at once against one database (workers on several machines, or a hand-run
`digest send` beside the scheduler): every reader gets exactly one copy, on SQLite and on
PostgreSQL, and the senders split the work instead of each doing all of it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.store import open_store
from digest.store.schema import DeliveryRow
from tests.conftest import ROOT, TEST_SECRET
from tests.delivery_support import (  # noqa: F401 (postgres_url is a fixture)
    add_readers,
    copies,
    ingest,
    paper,
    postgres_url,
)
from tests.smtpd import RecordingHandler, SmtpServer

READERS = 40
MANY = 1000


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_digest_send_processes_share_the_work_without_duplicates(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("db_url" if backend == "sqlite" else "postgres_url")
    store = open_store(url)
    try:
        ingest(store, [paper(n) for n in range(4)], at=datetime.now(UTC) - timedelta(hours=1))
        add_readers(store, READERS)
        with SmtpServer(RecordingHandler(delay=0.01)) as server:
            config = tmp_path / "config.toml"
            config.write_text(
                f'[database]\nurl = "{url}"\n[smtp]\nport = {server.port}\nconcurrency = 2\n'
                '[site]\nbase_url = "https://digest.example.org"\n'
                f'secret_key = ["{TEST_SECRET}"]\n',
                encoding="utf-8",
            )
            command = [sys.executable, "-m", "digest", "--config", str(config), "send", "--json"]
            senders = [
                subprocess.Popen(
                    command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
                for _ in range(2)
            ]
            results = []
            for sender in senders:
                out, err = sender.communicate(timeout=180)
                assert sender.returncode == 0, err
                results.append(json.loads(out))
            messages = server.messages
        assert copies(messages) == {f"reader{n}@example.org": 1 for n in range(READERS)}
        assert sum(r["sent"] for r in results) == READERS
        with store.session() as session:
            assert Counter(session.scalars(select(DeliveryRow.status))) == {"sent": READERS}
    finally:
        store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_three_senders_split_a_thousand_digests_with_none_lost_or_doubled(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("db_url" if backend == "sqlite" else "postgres_url")
    store = open_store(url)
    try:
        ingest(store, [paper(n) for n in range(4)], at=datetime.now(UTC) - timedelta(hours=1))
        add_readers(store, MANY)
        with SmtpServer(RecordingHandler(delay=0.002)) as server:
            config = tmp_path / "config.toml"
            config.write_text(
                f'[database]\nurl = "{url}"\n[smtp]\nport = {server.port}\nconcurrency = 4\n'
                '[site]\nbase_url = "https://digest.example.org"\n'
                f'secret_key = ["{TEST_SECRET}"]\n',
                encoding="utf-8",
            )
            command = [sys.executable, "-m", "digest", "--config", str(config), "send", "--json"]
            senders = [
                subprocess.Popen(
                    command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
                for _ in range(3)
            ]
            results = []
            for sender in senders:
                out, err = sender.communicate(timeout=300)
                assert sender.returncode == 0, err
                results.append(json.loads(out))
            messages = server.messages
        assert copies(messages) == {f"reader{n}@example.org": 1 for n in range(MANY)}
        assert sum(r["sent"] for r in results) == MANY  # nobody counted another's work
        with store.session() as session:
            assert Counter(session.scalars(select(DeliveryRow.status))) == {"sent": MANY}
    finally:
        store.dispose()

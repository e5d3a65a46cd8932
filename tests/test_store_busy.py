"""A database another process keeps locked: one line, exit 1, nothing changed.

The lock is real: a second SQLite connection holds the write lock (BEGIN IMMEDIATE) for the whole
command, the way a long ingest next to the scheduler does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import run
from digest.store import Store, open_store
from tests.conftest import ON_POSTGRES, TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper
from tests.smtpd import SmtpServer
from tests.websupport import Site, subscribe_form

pytestmark = pytest.mark.skipif(
    ON_POSTGRES, reason="SQLite only: a second connection holding SQLite's write lock"
)

BUSY = "error: database is busy: another digest process is writing; try again\n"
PROFILE = """email = "busy@example.org"
timezone = "UTC"
[[topics]]
name = "Agents"
query = "agent*"
"""
SOURCE = '[{"paper": {"id": "2501.00001", "title": "A paper while locked", "summary": "x"}}]'


@pytest.fixture
def config(store: Store, db_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Path:
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 2)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\nbusy_timeout = 0.3\n[smtp]\nport = {smtp_server.port}\n'
        f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n',
        encoding="utf-8",
    )
    (tmp_path / "busy.toml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "new.json").write_text(SOURCE, encoding="utf-8")
    return path


@pytest.fixture
def locked(db_url: str) -> Iterator[sqlite3.Connection]:
    """Another writer holding the database's write lock until the test ends."""
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield holder
    holder.execute("ROLLBACK")
    holder.close()


def _counts(db_url: str) -> tuple[int, int, int]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("papers", "subscribers", "deliveries")
        )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["ingest", "new.json"], id="ingest"),
        pytest.param(["subscribers", "import", "busy.toml"], id="subscribers-import"),
        pytest.param(["send"], id="send"),
    ],
)
def test_a_locked_database_is_one_line_exit_1_and_changes_nothing(
    command: list[str],
    config: Path,
    db_url: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.chdir(tmp_path)
    before = _counts(db_url)
    request.getfixturevalue("locked")
    capsys.readouterr()
    assert run(["--config", str(config), *command]) == 1
    captured = capsys.readouterr()
    assert captured.err == BUSY
    assert smtp_server.messages == []
    assert _counts(db_url) == before


def test_after_the_lock_is_gone_the_same_command_works(
    config: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    before = _counts(db_url)
    assert run(["--config", str(config), "ingest", "new.json"]) == 1
    holder.execute("ROLLBACK")
    holder.close()
    assert _counts(db_url) == before
    assert run(["--config", str(config), "ingest", "new.json"]) == 0
    assert _counts(db_url)[0] == before[0] + 1


class TestTheWebApp:
    """The same lock seen from the web app: 503 with Retry-After, the reader not stored."""

    @pytest.fixture
    def store(self, db_url: str) -> Iterator[Store]:
        opened = open_store(db_url, busy_timeout=0.3)
        yield opened
        opened.dispose()

    def test_a_sign_up_while_the_database_is_locked_is_503_and_stores_nothing(
        self, site: Site, db_url: str, request: pytest.FixtureRequest
    ) -> None:
        client = site.client()
        form = subscribe_form(client, email="late@example.org")
        request.getfixturevalue("locked")
        response = client.post("/subscribe", data=form)
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "Traceback" not in response.text
        assert site.row("late@example.org") is None

"""Several `digest serve` processes on one database (SQLite and PostgreSQL): no edition twice,
nothing lost on SIGTERM, catch-up after downtime."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.models import Paper, Profile, Topic
from digest.store import Store, open_store
from digest.store.papers import upsert_papers
from digest.store.subscribers import create
from tests.conftest import require
from tests.schedule_support import JOINED, base_env, digest, ledger, wait_for
from tests.smtpd import RecordingHandler, SmtpServer

# -- several processes, one database ------------------------------------------------------------

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL on a fresh schema of the shared `test` database (other suites use it at once)."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        require(False, f"PostgreSQL at 127.0.0.1:5432/test is unreachable: {exc}")
    schema = f"sched_{secrets.token_hex(4)}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, db_url: str) -> Iterator[Store]:
    """A migrated store on each supported backend, for tests that run real processes on it."""
    with ExitStack() as stack:
        url = db_url if request.param == "sqlite" else stack.enter_context(postgres_schema())
        opened = open_store(url)
        stack.callback(opened.dispose)
        yield opened


def url_of(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def readers_due_now(
    store: Store, count: int, *, late: timedelta = timedelta(minutes=2), prefix: str = "reader"
) -> list[str]:
    """`count` daily UTC readers whose send time was `late` ago, and papers for them."""
    now = datetime.now(UTC)
    send_time = (now - late).strftime("%H:%M")
    papers = [
        Paper(
            id=f"2611.{n:05d}",
            arxiv_id=f"2611.{n:05d}",
            title=f"Faster speculative decoding, part {n}",
            abstract="We make speculative decoding faster.",
            upvotes=10 + n,
        )
        for n in range(3)
    ]
    emails = [f"{prefix}{n:02d}@example.org" for n in range(count)]
    with store.session() as session:
        upsert_papers(session, papers, now=now - timedelta(hours=1))
        for email in emails:
            profile = Profile(
                email=email,
                timezone="UTC",
                cadence="daily",
                send_time=send_time,
                topics=(Topic("Decoding", "speculative decoding"),),
            )
            create(session, profile, status="active", origin="import", now=JOINED)
    return emails


def serve_env(store: Store, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    settings = {
        "DIGEST_SMTP__PORT": str(smtp.port),
        "DIGEST_SMTP__CONCURRENCY": "2",
        "DIGEST_SMTP__MAX_ATTEMPTS": "1",
    }
    return base_env(url_of(store), **{**settings, **extra})


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def recipients(smtp: SmtpServer) -> list[str]:
    return sorted(rcpt for message in smtp.messages for rcpt in message.rcpt_tos)


@dataclass
class SlowHandler(RecordingHandler):
    """An SMTP server that takes its time over each message, so a signal lands mid-send."""

    delay: float = 0.7

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        reply: str = await super().handle_DATA(server, session, envelope)
        return reply


@pytest.fixture
def slowish_smtp() -> Iterator[SmtpServer]:
    with SmtpServer(SlowHandler(delay=0.15)) as server:
        yield server


def test_two_serve_processes_on_one_database_never_send_an_edition_twice(
    backend: Store, slowish_smtp: SmtpServer, tmp_path: Path
) -> None:
    smtp_server = slowish_smtp
    emails = readers_due_now(backend, 12)
    env = serve_env(backend, smtp_server)
    # Both start at once and tick as soon as they start; a slowish server keeps the first busy
    # long enough for the second to race it for the editions not yet claimed.
    procs = [start(["serve", "--no-web"], env, tmp_path) for _ in range(2)]
    try:
        wait_for(lambda: len(smtp_server.messages) >= len(emails), timeout=60)
        wait_for(lambda: set(ledger(backend).values()) == {"sent"}, timeout=30)
        time.sleep(1.0)  # room for a double send to show up
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert recipients(smtp_server) == emails
    assert ledger(backend) == dict.fromkeys(emails, "sent")


def test_once_loops_in_two_processes_send_each_edition_once(
    backend: Store, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    emails = readers_due_now(backend, 8)
    env = serve_env(backend, smtp_server)
    for _ in range(3):
        procs = [start(["serve", "--once"], env, tmp_path) for _ in range(2)]
        outputs = [proc.communicate(timeout=60) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert recipients(smtp_server) == emails
    assert ledger(backend) == dict.fromkeys(emails, "sent")


def test_sigterm_during_a_send_exits_zero_and_loses_nothing(backend: Store, tmp_path: Path) -> None:
    emails = readers_due_now(backend, 10)
    with SmtpServer(SlowHandler()) as smtp:
        env = serve_env(backend, smtp, DIGEST_SMTP__CONCURRENCY="1")
        proc = start(["serve", "--no-web"], env, tmp_path)
        try:
            wait_for(lambda: len(smtp.messages) >= 2, timeout=60)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, stderr
        first_run = recipients(smtp)
        states = ledger(backend)
        # Every message the server accepted is recorded as sent; nothing is left claimed.
        assert sorted(e for e, s in states.items() if s == "sent") == first_run
        assert set(states.values()) <= {"sent", "deferred"}
        assert len(first_run) < len(emails), "the signal came too late to interrupt the send"

        # The next run sends the rest, and nothing twice.
        rerun = start(["serve", "--once"], env, tmp_path)
        _, stderr = rerun.communicate(timeout=60)
        assert rerun.returncode == 0, stderr
        assert recipients(smtp) == emails
        assert ledger(backend) == dict.fromkeys(emails, "sent")


def test_after_downtime_a_run_sends_late_editions_inside_the_grace_window_only(
    store: Store, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    inside = readers_due_now(store, 2, late=timedelta(hours=3), prefix="inside")
    readers_due_now(store, 2, late=timedelta(hours=8), prefix="outside")
    env = serve_env(store, smtp_server, DIGEST_SCHEDULE__CATCH_UP_HOURS="6")
    for _ in range(2):  # and a second run sends nothing more
        result = digest("serve", "--once", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert recipients(smtp_server) == inside
    assert ledger(store) == dict.fromkeys(inside, "sent")

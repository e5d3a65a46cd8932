"""`digest serve` and `digest due` as operators run them: real processes, real SQLite/PostgreSQL,
a real SMTP server, real signals."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.models import Paper, Profile, Topic
from digest.schedule.service import Scheduler, check_configuration
from digest.settings import Settings
from digest.store import Store, open_store
from digest.store.papers import count_papers, upsert_papers
from digest.store.schema import DeliveryRow, SubscriberRow
from digest.store.subscribers import Status, create
from tests.conftest import ROOT, TEST_SECRET, require
from tests.smtpd import RecordingHandler, SmtpServer

JOINED = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLE = ROOT / "digest" / "samples" / "daily-papers-sample.txt"


def base_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if "DIGEST_REQUIRE_SERVICES" in os.environ:
        env["DIGEST_REQUIRE_SERVICES"] = os.environ["DIGEST_REQUIRE_SERVICES"]
    env.update(
        {
            "DIGEST_DATABASE__URL": db_url,
            "DIGEST_SITE__BASE_URL": "https://digest.example.org",
            "DIGEST_SITE__SECRET_KEY": TEST_SECRET,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def digest(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add(
    store: Store, email: str, timezone: str, cadence: str, send_time: str, status: Status = "active"
) -> int:
    profile = Profile(
        email=email,
        timezone=timezone,
        cadence=cadence,
        send_time=send_time,
        topics=(Topic("Decoding", "decoding"),),
    )
    with store.session() as session:
        return create(session, profile, status=status, origin="import", now=JOINED).id


# -- digest due ---------------------------------------------------------------------------------


def test_due_lists_email_and_local_edition_as_json(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    add(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    add(store, "tokyo@example.org", "Asia/Tokyo", "daily", "07:00")
    add(store, "ny@example.org", "America/New_York", "weekly:mon", "08:00")
    add(store, "pending@example.org", "Europe/Paris", "daily", "08:00", status="pending")
    with store.session() as session:  # Paris already had today's edition
        session.add(
            DeliveryRow(
                subscriber_id=1,
                edition=datetime(2026, 3, 30).date(),
                status="sent",
                created_at=JOINED,
                updated_at=JOINED,
            )
        )
    env = base_env(db_url, DIGEST_SCHEDULE__CATCH_UP_HOURS="12")
    # 2026-03-29T23:30Z is already Monday 08:30 in Tokyo (slot 07:00), but only 01:30 in Paris
    # and Sunday 19:30 in New York, whose last slots are more than 12 hours old.
    result = digest("due", "--at", "2026-03-29T23:30:00+00:00", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"email": "tokyo@example.org", "edition": "2026-03-30"}]

    # 08:30 in Paris: Paris's edition is in the ledger already; Tokyo's is 8.5 hours late.
    result = digest("due", "--at", "2026-03-30T08:30:00+02:00", "--json", env=env, cwd=tmp_path)
    assert json.loads(result.stdout) == [{"email": "tokyo@example.org", "edition": "2026-03-30"}]

    # 08:00 on Monday in New York: the weekly edition, on time; Tokyo's is now too late.
    result = digest("due", "--at", "2026-03-30T12:00:00Z", "--json", env=env, cwd=tmp_path)
    assert json.loads(result.stdout) == [{"email": "ny@example.org", "edition": "2026-03-30"}]

    table = digest("due", "--at", "2026-03-30T12:00:00Z", env=env, cwd=tmp_path)
    assert table.returncode == 0
    assert "ny@example.org" in table.stdout and "2026-03-30" in table.stdout


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("2026-03-30T08:00:00", "error: --at: '2026-03-30T08:00:00' has no UTC offset"),
        ("next monday", "error: --at: expected an ISO datetime"),
    ],
)
def test_due_refuses_an_instant_without_offset(
    store: Store, db_url: str, tmp_path: Path, at: str, message: str
) -> None:
    result = digest("due", "--at", at, "--json", env=base_env(db_url), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message)


# -- start-up validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_extra", "profile", "message"),
    [
        ({"DIGEST_SCHEDULE__INGEST_CRON": "0 25 * * *"}, None, "[schedule] ingest_cron"),
        ({"DIGEST_SCHEDULE__INGEST_CRON": "0 6 * * 8"}, None, "[schedule] ingest_cron"),
        ({"DIGEST_SCHEDULE__TIMEZONE": "Europe/Atlantis"}, None, "[schedule] timezone"),
        ({}, ("Mars/Olympus", "daily", "08:00"), "subscriber bad@example.org: timezone"),
        ({}, ("UTC", "fortnightly", "08:00"), "subscriber bad@example.org: cadence"),
        ({}, ("UTC", "daily", "8am"), "subscriber bad@example.org: send_time"),
        ({"DIGEST_SITE__SECRET_KEY": ""}, None, "[site] secret_key is not set"),
        ({"DIGEST_SENDER__FROM_ADDRESS": "digest at example"}, None, "[sender] from_address"),
    ],
)
def test_serve_refuses_to_start_half_configured(
    store: Store,
    db_url: str,
    tmp_path: Path,
    env_extra: dict[str, str],
    profile: tuple[str, str, str] | None,
    message: str,
) -> None:
    add(store, "good@example.org", "UTC", "daily", "08:00")
    if profile is not None:
        add(store, "bad@example.org", *profile)
    result = digest("serve", "--no-web", env=base_env(db_url, **env_extra), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "scheduler started" not in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--no-web", "--no-scheduler"), "leave nothing to run"),
        (("--once", "--no-scheduler"), "--once runs a delivery tick"),
    ],
)
def test_contradictory_flags_are_refused(
    store: Store, db_url: str, tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    result = digest("serve", *flags, env=base_env(db_url), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_web_and_scheduler_share_one_process_and_stop_cleanly_on_a_signal(
    store: Store, db_url: str, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port)],
        env=base_env(db_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy)
        proc.send_signal(stop_signal)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "scheduler started" in stderr
    assert "stopped" in stderr


def test_a_busy_port_is_a_clean_error(store: Store, db_url: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = digest("serve", "--port", str(port), env=base_env(db_url), cwd=tmp_path)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


# -- the tick, in process, on a simulated clock -------------------------------------------------


class SimulatedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_the_tick_sends_through_the_pipeline_at_each_local_slot_across_dst(
    store: Store, smtp_server: SmtpServer, make_settings: Callable[..., Settings]
) -> None:
    add(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    add(store, "tokyo@example.org", "Asia/Tokyo", "daily", "09:00")
    add(store, "ny@example.org", "America/New_York", "weekly:mon", "08:00")
    settings = make_settings(
        smtp={"port": smtp_server.port, "max_attempts": 1}, digest={"send_empty": True}
    )
    clock = SimulatedClock(datetime(2026, 3, 27, 14, tzinfo=UTC))  # nothing within catch-up
    scheduler = Scheduler(settings, store, clock=clock)

    async def run_days() -> None:
        # Every 15 minutes from Friday 14:00 to Tuesday noon UTC; Paris springs forward on Sunday.
        while clock.at <= datetime(2026, 3, 31, 12, tzinfo=UTC):
            await scheduler.tick()
            clock.at += timedelta(minutes=15)

    asyncio.run(run_days())
    sent = sorted((m.rcpt_tos[0], m.message["Date"]) for m in smtp_server.messages)
    assert sent == sorted(
        [
            ("paris@example.org", "Sat, 28 Mar 2026 07:00:00 +0000"),  # CET
            ("paris@example.org", "Sun, 29 Mar 2026 06:00:00 +0000"),  # CEST from this day
            ("paris@example.org", "Mon, 30 Mar 2026 06:00:00 +0000"),
            ("paris@example.org", "Tue, 31 Mar 2026 06:00:00 +0000"),
            ("tokyo@example.org", "Sat, 28 Mar 2026 00:00:00 +0000"),
            ("tokyo@example.org", "Sun, 29 Mar 2026 00:00:00 +0000"),
            ("tokyo@example.org", "Mon, 30 Mar 2026 00:00:00 +0000"),
            ("tokyo@example.org", "Tue, 31 Mar 2026 00:00:00 +0000"),
            ("ny@example.org", "Mon, 30 Mar 2026 12:00:00 +0000"),  # EDT
        ]
    )


def test_a_stopped_scheduler_claims_nothing(
    store: Store, smtp_server: SmtpServer, make_settings: Callable[..., Settings]
) -> None:
    add(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    settings = make_settings(smtp={"port": smtp_server.port}, digest={"send_empty": True})
    scheduler = Scheduler(
        settings, store, clock=SimulatedClock(datetime(2026, 3, 28, 7, tzinfo=UTC))
    )
    scheduler.stop.set()
    report = asyncio.run(scheduler.tick())
    assert [d.subscriber.email for d in report.due] == ["paris@example.org"]
    assert report.stopped and report.counts["sent"] == 0
    assert smtp_server.messages == [] and ledger(store) == {}


def test_the_scheduler_has_two_jobs_whatever_the_number_of_readers(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    for n in range(5):
        add(store, f"r{n}@example.org", "UTC", "daily", "08:00")
    settings = make_settings(
        ingest={"sources": [str(SAMPLE)]},
        schedule={"ingest_cron": "30 5 * * 1-5", "timezone": "Europe/Paris"},
    )
    trigger = check_configuration(settings, store)
    jobs = {job.id: job for job in Scheduler(settings, store).build(trigger).get_jobs()}
    assert sorted(jobs) == ["deliver", "ingest"]
    for job in jobs.values():
        # Missed runs are not replayed (due_editions does catch-up), nor run twice at once.
        assert (job.coalesce, job.max_instances) == (True, 1)
    assert jobs["deliver"].misfire_grace_time < 60
    # 05:30 Paris time on weekdays: Friday 2026-03-27 (CET), then Monday 2026-03-30 (CEST).
    first = trigger.get_next_fire_time(None, datetime(2026, 3, 27, 0, tzinfo=UTC))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert [first, second] == [
        datetime(2026, 3, 27, 4, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 3, 30, tzinfo=UTC),
    ]


def test_without_sources_there_is_no_ingest_job(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    jobs = Scheduler(settings, store).build(check_configuration(settings, store)).get_jobs()
    assert [job.id for job in jobs] == ["deliver"]


def test_the_ingest_job_reads_the_configured_sources(
    store: Store, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(ingest={"sources": [str(SAMPLE)]})
    clock = SimulatedClock(datetime(2026, 3, 27, 6, tzinfo=UTC))
    asyncio.run(Scheduler(settings, store, clock=clock).ingest())
    with store.session() as session:
        assert count_papers(session) > 0

    # A source that fails is logged; the service keeps running for the next try.
    broken = make_settings(ingest={"sources": [str(SAMPLE.with_name("missing.txt"))]})
    with caplog.at_level(logging.ERROR, logger="digest.schedule"):
        asyncio.run(Scheduler(broken, store, clock=clock).ingest())
    assert "ingest failed" in caplog.text and "missing.txt" in caplog.text


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


def ledger(store: Store) -> dict[str, str]:
    import sqlalchemy as sa

    with store.session() as session:
        rows = session.execute(
            sa.select(SubscriberRow.email, DeliveryRow.status).join(
                DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


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

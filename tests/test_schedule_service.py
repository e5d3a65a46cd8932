"""`digest serve` and `digest due` in one process: the due command, start-up checks, signals, and
the tick on a simulated clock."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from digest.schedule.service import Scheduler, check_configuration
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import fingerprint
from digest.store.schema import DeliveryRow, SubscriberRow
from tests.schedule_support import (
    JOINED,
    SAMPLE,
    SimulatedClock,
    add,
    base_env,
    digest,
    free_port,
    ledger,
    wait_for,
)
from tests.smtpd import SmtpServer

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
    ("env_extra", "message"),
    [
        ({"DIGEST_SCHEDULE__INGEST_CRON": "0 25 * * *"}, "[schedule] ingest_cron"),
        ({"DIGEST_SCHEDULE__INGEST_CRON": "0 6 * * 8"}, "[schedule] ingest_cron"),
        ({"DIGEST_SCHEDULE__TIMEZONE": "Europe/Atlantis"}, "[schedule] timezone"),
        ({"DIGEST_SITE__SECRET_KEY": ""}, "[site] secret_key is not set"),
        ({"DIGEST_SENDER__FROM_ADDRESS": "digest at example"}, "[sender] from_address"),
    ],
)
def test_serve_refuses_to_start_half_configured(
    store: Store,
    db_url: str,
    tmp_path: Path,
    env_extra: dict[str, str],
    message: str,
) -> None:
    add(store, "good@example.org", "UTC", "daily", "08:00")
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
    assert result.stderr.startswith(f"error: --port: cannot listen on 127.0.0.1:{port} (")


def test_an_address_this_machine_does_not_have_is_a_host_error(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a local interface.
    result = digest(
        "serve", "--host", "192.0.2.1", "--port", "0", env=base_env(db_url), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --host: cannot listen on 192.0.2.1:0 (")


# -- the tick, in process, on a simulated clock -------------------------------------------------


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
    # Date says when each mail was handed to the server (the real time); the tick that built
    # each edition is the ledger's candidates_until.
    with store.session() as session:
        built = session.execute(
            select(SubscriberRow.email, DeliveryRow.candidates_until).join(
                DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
            )
        ).all()
    assert len(smtp_server.messages) == len(built)
    sent = sorted((email, format_datetime(until.astimezone(UTC))) for email, until in built)
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
    assert report.due == 1
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
        assert fingerprint(session)[0] > 0

    # A source that fails is logged; the service keeps running for the next try.
    broken = make_settings(ingest={"sources": [str(SAMPLE.with_name("missing.txt"))]})
    with caplog.at_level(logging.ERROR, logger="digest.schedule"):
        asyncio.run(Scheduler(broken, store, clock=clock).ingest())
    assert "ingest failed" in caplog.text and "missing.txt" in caplog.text

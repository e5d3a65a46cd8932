"""No silent failures: a scheduled ingest that fails or finds no papers, and a tick whose
digests the mail server accepted none of, are logged as errors and mailed to `[alerts] email`
through a real SMTP server (aiosmtpd), at most once per condition per day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.schedule.service import Scheduler
from digest.settings import Settings
from digest.store import Store
from tests.schedule_support import SAMPLE, SimulatedClock, add
from tests.smtpd import Received, RecordingHandler, SmtpServer

OPERATOR = "operator@example.org"
MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _scheduler(
    settings: Settings, store: Store, at: datetime = MORNING
) -> tuple[Scheduler, SimulatedClock]:
    clock = SimulatedClock(at)
    return Scheduler(settings, store, clock=clock), clock


def _alerts(server: SmtpServer) -> list[Received]:
    return [mail for mail in server.messages if mail.rcpt_tos == [OPERATOR]]


def test_a_failing_source_is_mailed_once_a_day(
    store: Store,
    smtp_server: SmtpServer,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = tmp_path / "gone.txt"
    settings = make_settings(
        smtp={"port": smtp_server.port},
        ingest={"sources": [str(SAMPLE), str(missing)]},
        alerts={"email": OPERATOR},
    )
    scheduler, clock = _scheduler(settings, store)
    with caplog.at_level(logging.ERROR):
        asyncio.run(scheduler.ingest())
    assert any("ALERT" in r.message and str(missing) in r.message for r in caplog.records)
    [mail] = _alerts(smtp_server)
    message = mail.message
    assert message["Subject"] == f"[Papers Digest] ingest failed: {missing}"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert str(missing) in body and "Nothing from this ingest was stored" in body

    clock.at += timedelta(hours=1)
    asyncio.run(scheduler.ingest())
    assert len(_alerts(smtp_server)) == 1, "the same condition twice in a day: one mail"

    clock.at += timedelta(days=1)
    asyncio.run(scheduler.ingest())
    assert len(_alerts(smtp_server)) == 2, "the next day it is news again"


def test_a_source_with_no_papers_is_an_alert(
    store: Store, smtp_server: SmtpServer, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    empty = tmp_path / "today.json"
    empty.write_text("[]", encoding="utf-8")
    settings = make_settings(
        smtp={"port": smtp_server.port},
        ingest={"sources": [str(SAMPLE), str(empty)]},
        alerts={"email": OPERATOR},
    )
    scheduler, _ = _scheduler(settings, store)
    asyncio.run(scheduler.ingest())
    [mail] = _alerts(smtp_server)
    assert mail.message["Subject"] == f"[Papers Digest] no papers from {empty}"
    assert "found 0 papers" in mail.message.get_content()


def test_a_good_ingest_raises_nothing(
    store: Store, smtp_server: SmtpServer, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        smtp={"port": smtp_server.port},
        ingest={"sources": [str(SAMPLE)]},
        alerts={"email": OPERATOR},
    )
    scheduler, _ = _scheduler(settings, store)
    asyncio.run(scheduler.ingest())
    assert smtp_server.messages == []


def test_without_an_address_alerts_are_only_logged(
    store: Store,
    smtp_server: SmtpServer,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        smtp={"port": smtp_server.port}, ingest={"sources": [str(tmp_path / "gone.txt")]}
    )
    scheduler, _ = _scheduler(settings, store)
    with caplog.at_level(logging.ERROR):
        asyncio.run(scheduler.ingest())
    assert [r for r in caplog.records if r.levelno == logging.ERROR and "ALERT" in r.message]
    assert smtp_server.messages == []


def test_a_tick_with_nothing_accepted_is_an_alert_and_partial_success_is_not(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    refused = {"paris@example.org", "tokyo@example.org"}
    handler = RecordingHandler(
        rcpt_fault=lambda address: "451 4.3.0 mailbox busy" if address in refused else None
    )
    with SmtpServer(handler) as server:
        add(store, "paris@example.org", "UTC", "daily", "08:00")
        add(store, "tokyo@example.org", "UTC", "daily", "08:00")
        settings = make_settings(
            smtp={"port": server.port, "max_attempts": 1, "retry_backoff": 0},
            digest={"send_empty": True},
            alerts={"email": OPERATOR},
        )
        scheduler, clock = _scheduler(settings, store, datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        report = asyncio.run(scheduler.tick())
        assert report.counts["deferred"] == 2 and report.counts["sent"] == 0
        [mail] = _alerts(server)
        assert mail.message["Subject"] == (
            "[Papers Digest] no digest was accepted by the mail server"
        )
        assert "2 deferred" in mail.message.get_content()

        # The next day one reader gets through: partial success is no alert.
        refused.discard("tokyo@example.org")
        clock.at += timedelta(days=1)
        report = asyncio.run(scheduler.tick())
        assert report.counts["sent"] == 1
        assert len(_alerts(server)) == 1

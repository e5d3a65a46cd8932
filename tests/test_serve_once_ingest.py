"""`digest serve --once` under a timer does what the long-running scheduler would: it ingests
`[ingest] sources` when `[schedule] ingest_cron` fired since their last ingest, then ticks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from digest.schedule.service import Scheduler, run_once
from digest.settings import Settings
from digest.store import Store, ingest_runs
from tests.schedule_support import SAMPLE, SimulatedClock
from tests.smtpd import SmtpServer


def _runs(store: Store) -> int:
    with store.session() as session:
        return len(ingest_runs.history(session))


def test_once_ingests_when_the_cron_fired_since_the_last_ingest(
    store: Store, smtp_server: SmtpServer, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        smtp={"port": smtp_server.port},
        ingest={"sources": [str(SAMPLE)]},
        schedule={"ingest_cron": "0 6 * * *", "timezone": "UTC"},
    )
    clock = SimulatedClock(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    scheduler = Scheduler(settings, store, clock=clock)
    asyncio.run(run_once(scheduler))
    assert _runs(store) == 1, "06:00 passed and nothing was ingested yet: ingest now"
    clock.at += timedelta(minutes=5)
    asyncio.run(run_once(Scheduler(settings, store, clock=clock)))
    assert _runs(store) == 1, "already ingested since 06:00"
    clock.at = datetime(2026, 3, 3, 5, 59, tzinfo=UTC)
    asyncio.run(run_once(Scheduler(settings, store, clock=clock)))
    assert _runs(store) == 1, "not yet 06:00 the next day"
    clock.at = datetime(2026, 3, 3, 6, 1, tzinfo=UTC)
    asyncio.run(run_once(Scheduler(settings, store, clock=clock)))
    assert _runs(store) == 2


def test_once_without_sources_only_ticks(
    store: Store, smtp_server: SmtpServer, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(smtp={"port": smtp_server.port})
    clock = SimulatedClock(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    report = asyncio.run(run_once(Scheduler(settings, store, clock=clock)))
    assert report.due == 0 and _runs(store) == 0

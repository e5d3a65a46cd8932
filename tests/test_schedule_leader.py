"""One scheduler leads each tick; the others stand by and take over when the leader goes.

Two `digest serve` processes on one database never both run the jobs: each tick, a scheduler
asks for the leader lock (a session-level advisory lock on PostgreSQL, an exclusive lock on a
file beside a SQLite database), and the lock dies with the process that holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from digest.schedule.crontab import crontab_trigger
from digest.schedule.service import Scheduler
from digest.settings import Settings
from digest.store import Store, open_store
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.schedule_support import SimulatedClock, add, ledger
from tests.smtpd import SmtpServer


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_scheduler_leads_and_another_takes_over_when_it_stops(
    backend: str, request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> None:
    url = request.getfixturevalue("db_url" if backend == "sqlite" else "postgres_url")
    store = open_store(url)
    settings = make_settings(database={"url": url})
    first, second = Scheduler(settings, store), Scheduler(settings, store)
    try:
        assert first.leads()
        assert not second.leads()
        assert first.leads()  # leadership is kept, not re-won every tick
        first.leadership.close()  # as when the leader's process ends
        assert second.leads()
        assert not first.leads()
    finally:
        first.leadership.close()
        second.leadership.close()
        store.dispose()


async def minute_job(scheduler: Scheduler) -> None:
    """Run the job `digest serve` schedules every minute, as APScheduler would."""
    job = scheduler.build(crontab_trigger("0 6 * * *", "UTC")).get_job("deliver")
    assert job is not None
    await job.func()


def test_only_the_leader_delivers_on_its_tick(
    store: Store, make_settings: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    add(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    settings = make_settings(smtp={"port": smtp_server.port}, digest={"send_empty": True})
    at = datetime(2026, 3, 28, 7, 1, tzinfo=UTC)  # 08:01 in Paris
    leader = Scheduler(settings, store, clock=SimulatedClock(at))
    follower = Scheduler(settings, store, clock=SimulatedClock(at))
    try:
        assert follower.leads()  # whoever asks first leads
        asyncio.run(minute_job(leader))
        assert smtp_server.messages == [] and ledger(store) == {}
        asyncio.run(minute_job(follower))
        assert [m.rcpt_tos for m in smtp_server.messages] == [["paris@example.org"]]
    finally:
        leader.leadership.close()
        follower.leadership.close()

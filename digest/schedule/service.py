"""`digest serve`: the scheduler (and the web app) in one asyncio process.

Two jobs, whatever the number of subscribers: ingestion of `[ingest] sources` on
`[schedule] ingest_cron`, and a delivery tick at the top of every minute that asks
`due_editions` who is due and hands them to the delivery pipeline. APScheduler only says *when*
to look; *what* to send comes from the database, so:

- catch-up after downtime is `due_editions`' job (`[schedule] catch_up_hours`), not APScheduler's
  replay of missed runs (coalesce, short misfire grace);
- the job store is the default in-memory one, private to the process; several processes on one
  database are safe because each delivery is claimed through the ledger's unique
  (subscriber, edition) row, never through a shared job store;
- the clock is injectable and `tick(at)` can be called directly, so tests walk months in seconds.

Stopping (SIGTERM/SIGINT) sets one `asyncio.Event`: no new tick starts, the running one stops
claiming, finishes or releases what it holds, the web server drains, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.app.alerts import Alerter, ingest_alerts, runs_since, send_alert
from digest.app.due import DuePage, WorkPage, due_pages, stored_schedule_problems
from digest.app.ingest import ingest as ingest_sources
from digest.app.ingest import last_ingest
from digest.app.send import SendEvent, check_sender, send_editions
from digest.app.tokens import Signer
from digest.errors import DigestError
from digest.models import Subscriber
from digest.render import Renderer
from digest.schedule.crontab import crontab_trigger, fired_since
from digest.settings import Settings
from digest.store import Store
from digest.store.workers import Leadership

log = logging.getLogger("digest.schedule")

OUTCOMES = ("sent", "skipped", "deferred", "failed", "bounced")
# A tick that could not start within this many seconds of its minute (event loop blocked, machine
# suspended) is dropped: the next minute's tick sees the same due editions anyway.
TICK_MISFIRE_GRACE = 50
# Ingestion missed by less than this (same reasons) still runs once; coalesce folds repeats.
INGEST_MISFIRE_GRACE = 3600


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class TickReport:
    """What one delivery tick found due and what became of it (counts per ledger outcome)."""

    at: datetime
    due: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    stopped: bool = False

    def describe(self) -> str:
        done = ", ".join(f"{name} {self.counts[name]}" for name in OUTCOMES)
        late = " (stopped early)" if self.stopped else ""
        return f"tick {self.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}: {self.due} due; {done}{late}"


def check_configuration(settings: Settings, store: Store, *, delivery: bool = True) -> CronTrigger:
    """Everything the service will rely on, checked before anything starts: the ingestion cron
    and zone, every stored profile's cadence, send time and zone and, when it will deliver, the
    signing key, sender addresses and templates (else the first tick, hours later, would fail
    for every reader). Raises a DigestError naming the setting."""
    trigger = crontab_trigger(settings.schedule.ingest_cron, settings.schedule.timezone)
    # A stored profile that no longer validates fails only that reader, at each of its
    # editions; the service starts for everyone else and says so now.
    for problem in stored_schedule_problems(store):
        log.warning("%s: that reader is not served until the profile is fixed", problem)
    if delivery:
        Signer(settings.secret_keys)
        check_sender(settings)
        Renderer(settings)
    return trigger


def _log_problems(event: SendEvent) -> None:
    """Each delivery that did not go through is a warning in the service's log, naming the
    reader and why: "the job ran, no mail arrived" must be answerable from the log."""
    if event.kind in ("deferred", "failed", "bounced"):
        edition = event.edition.isoformat() if event.edition else "-"
        log.warning("%s %s edition %s: %s", event.kind, event.email, edition, event.error)


def _work_page(page: DuePage) -> WorkPage[Subscriber]:
    return WorkPage(
        editions=[(due.subscriber, due.edition) for due in page.due],
        unschedulable=page.unschedulable,
    )


class Scheduler:
    """The two jobs and their lifecycle; web serving is composed in by `serve()`."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or SystemClock()
        self.stop = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self.leadership = Leadership(store)
        self.alerter = Alerter(settings, store)
        self._standing_by = False

    def leads(self) -> bool:
        """Only one scheduler per database runs the jobs; the others stand by and one takes
        over at the next tick after the leader's process ends (its lock goes with it)."""
        leading = self.leadership.try_lead()
        if leading and self._standing_by:
            log.info("this scheduler now leads (the previous leader stopped)")
        elif not leading and not self._standing_by:
            log.info("another scheduler leads on this database; standing by")
        self._standing_by = not leading
        return leading

    # -- the delivery tick ------------------------------------------------------------------

    async def tick(self, at: datetime | None = None) -> TickReport:
        """Send every edition due at `at` (default: the clock's now). Callable directly."""
        at = at or self.clock.now()
        # Send times are whole minutes: judge due-ness at the tick's minute, so a tick that starts
        # a few milliseconds late still counts as on time (and catch_up_hours = 0 works).
        minute = at.replace(second=0, microsecond=0)
        report = TickReport(at=at)

        def work() -> Iterator[WorkPage[Subscriber]]:
            for page in due_pages(self.store, minute, self.settings):
                report.due += len(page.due)
                yield _work_page(page)

        pages = work()
        # Most minutes nobody is due: then no index is built and no connection opened.
        first = await asyncio.to_thread(next, pages, None)
        if first is None:
            return report
        summary = await send_editions(
            self.store,
            self.settings,
            now=at,
            work=chain([first], pages),
            stop=self.stop,
            progress=_log_problems,
        )
        for name in OUTCOMES:
            report.counts[name] += int(getattr(summary, name))
        report.stopped = self.stop.is_set()
        if report.due or any(report.counts.values()):
            log.info("%s", report.describe())
        alert = send_alert(summary)
        if alert is not None:
            await self.alerter.raise_alerts([alert], now=at)
        return report

    # -- ingestion --------------------------------------------------------------------------

    async def ingest(self) -> None:
        sources = self.settings.ingest.sources
        if not sources:
            return
        now = self.clock.now()
        failure: str | None = None
        try:
            counts = await asyncio.to_thread(
                ingest_sources, self.store, sources, now=now, timeout=self.settings.ingest.timeout
            )
            log.info("ingested %s", counts)
        except DigestError as exc:
            # A source that is down must not stop deliveries; the next run tries again.
            log.error("ingest failed: %s", exc)
            failure = str(exc)
        try:
            runs = await asyncio.to_thread(runs_since, self.store, now, sources)
        except DigestError as exc:
            log.error("could not read the ingest history: %s", exc)
            runs = []
        found = ingest_alerts(runs, failure=failure, sources=sources)
        await self.alerter.raise_alerts(found, now=now)

    def ingest_due(self, trigger: CronTrigger) -> bool:
        """Whether the ingest job would have run since the sources were last read (the ingest
        history says when): what a one-shot run from cron must catch up on."""
        sources = self.settings.ingest.sources
        if not sources:
            return False
        return fired_since(trigger, last_ingest(self.store, sources), self.clock.now())

    # -- jobs -------------------------------------------------------------------------------

    async def _guarded(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run a job as a tracked task so shutdown can wait for it instead of cancelling it."""
        if self.stop.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await job()
        except DigestError as exc:
            log.error("%s: %s", name, exc)
        except Exception:
            log.exception("%s failed; the next run tries again", name)
        finally:
            self._running.discard(task)

    async def _delivery_job(self) -> None:
        if self.leads():
            await self._guarded("delivery tick", self.tick)

    async def _ingest_job(self) -> None:
        if self.leads():
            await self._guarded("ingest", self.ingest)

    def build(self, ingest_trigger: CronTrigger) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._delivery_job,
            CronTrigger(second=0, timezone=UTC),
            id="deliver",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=TICK_MISFIRE_GRACE,
            # Tick at once on start: after a restart, catch-up should not wait for the minute.
            next_run_time=datetime.now(UTC),
        )
        if self.settings.ingest.sources:
            scheduler.add_job(
                self._ingest_job,
                ingest_trigger,
                id="ingest",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=INGEST_MISFIRE_GRACE,
            )
        return scheduler

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for running jobs (which watch `stop`) to finish what they hold."""
        running = list(self._running)
        if running:
            log.info("waiting for %d running job(s) to finish", len(running))
            await asyncio.wait(running, timeout=timeout)


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set `stop` (a second one too: shutdown is already under way)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def request(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("%s received: stopping after in-flight messages", sig.name)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, request, sig)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def run_once(scheduler: Scheduler, ingest_trigger: CronTrigger | None = None) -> TickReport:
    """`digest serve --once` (run from cron or a systemd timer): the ingest job when
    `ingest_trigger` fired since the configured sources were last read, then one delivery
    tick, so the fresh papers go out with it; stoppable by a signal, then return."""
    with stop_on_signals(scheduler.stop):
        if ingest_trigger is not None and scheduler.ingest_due(ingest_trigger):
            await scheduler.ingest()
        return await scheduler.tick()


async def serve(
    scheduler: Scheduler,
    *,
    ingest_trigger: CronTrigger | None,
    web: Callable[[asyncio.Event], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run the scheduler (when `ingest_trigger` is given) and/or a web server until stopped.

    `web(done)` serves until `done` is set and then returns; it is set only after the scheduler
    drained, so the site answers while the last messages go out. If the web server ends on its
    own, the whole service stops."""
    stop = scheduler.stop
    with stop_on_signals(stop):
        aps = None
        if ingest_trigger is not None:
            aps = scheduler.build(ingest_trigger)
            aps.start()
            log.info("scheduler started: delivery every minute, ingest %s", _ingest_plan(scheduler))
        web_done = asyncio.Event()
        web_task = asyncio.create_task(web(web_done)) if web is not None else None
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if web_task is not None:
            waiters.append(web_task)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        if aps is not None:
            aps.pause()
            await scheduler.drain()
            aps.shutdown(wait=False)
        scheduler.leadership.close()
        web_done.set()
        if web_task is not None:
            await web_task
        for waiter in waiters:
            waiter.cancel()
    log.info("stopped")


def _ingest_plan(scheduler: Scheduler) -> str:
    settings = scheduler.settings
    if not settings.ingest.sources:
        return "off (no [ingest] sources)"
    return f"on {settings.schedule.ingest_cron!r} ({settings.schedule.timezone})"

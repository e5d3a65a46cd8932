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
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.app.due import Due, due_editions, validate_stored_schedules
from digest.errors import ConfigError, DigestError
from digest.schedule.crontab import crontab_trigger
from digest.settings import Settings
from digest.store import Store

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
    due: list[Due]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    stopped: bool = False

    def describe(self) -> str:
        done = ", ".join(f"{name} {self.counts[name]}" for name in OUTCOMES)
        late = " (stopped early)" if self.stopped else ""
        return (
            f"tick {self.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}: {len(self.due)} due; {done}{late}"
        )


def check_configuration(settings: Settings, store: Store, *, delivery: bool = True) -> CronTrigger:
    """Everything the service will rely on, checked before anything starts: the ingestion cron
    and zone, every stored profile's cadence, send time and zone and, when it will deliver, the
    signing key, sender addresses and templates (else the first tick, hours later, would fail
    for every reader). Raises a DigestError naming the setting."""
    trigger = crontab_trigger(settings.schedule.ingest_cron, settings.schedule.timezone)
    with store.session() as session:
        validate_stored_schedules(session)
    if delivery:
        from digest.app.send import check_sender
        from digest.app.tokens import Signer
        from digest.render import Renderer

        Signer(settings.secret_keys)
        check_sender(settings)
        Renderer(settings)
    return trigger


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

    # -- the delivery tick ------------------------------------------------------------------

    async def tick(self, at: datetime | None = None) -> TickReport:
        """Send every edition due at `at` (default: the clock's now). Callable directly."""
        at = at or self.clock.now()
        # Send times are whole minutes: judge due-ness at the tick's minute, so a tick that starts
        # a few milliseconds late still counts as on time (and catch_up_hours = 0 works).
        due = await asyncio.to_thread(self._due, at.replace(second=0, microsecond=0))
        report = TickReport(at=at, due=due)
        # Imported here: `digest due` and the start-up checks need no SMTP stack.
        from digest.app.send import send_editions

        # The pipeline sends one edition date per call; subscribers in different zones can be
        # due for different local dates in the same minute, so group, oldest slot first.
        groups: dict[date, list[int]] = defaultdict(list)
        for item in due:
            groups[item.edition].append(item.subscriber.id)
        for edition, subscriber_ids in groups.items():
            if self.stop.is_set():
                report.stopped = True
                break
            summary = await send_editions(
                self.store,
                self.settings,
                now=at,
                edition_date=edition,
                subscriber_ids=subscriber_ids,
                stop=self.stop,
            )
            for name in OUTCOMES:
                report.counts[name] += int(getattr(summary, name))
        report.stopped = report.stopped or self.stop.is_set()
        if due:
            log.info("%s", report.describe())
        return report

    def _due(self, at: datetime) -> list[Due]:
        with self.store.session() as session:
            return due_editions(session, at, self.settings)

    # -- ingestion --------------------------------------------------------------------------

    async def ingest(self) -> None:
        sources = self.settings.ingest.sources
        if not sources:
            return
        from digest.app.ingest import ingest

        now = self.clock.now()
        try:
            counts = await asyncio.to_thread(
                ingest, self.store, sources, now=now, timeout=self.settings.ingest.timeout
            )
        except DigestError as exc:
            # A source that is down must not stop deliveries; the next run tries again.
            log.error("ingest failed: %s", exc)
            return
        log.info("ingested %s", counts)

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
        await self._guarded("delivery tick", self.tick)

    async def _ingest_job(self) -> None:
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


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is a clean error, not a half-started service."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"--host/--port: cannot listen on {host}:{port} ({exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def run_once(scheduler: Scheduler) -> TickReport:
    """`digest serve --once`: one delivery tick, stoppable by a signal, then return."""
    with stop_on_signals(scheduler.stop):
        return await scheduler.tick()


async def serve(
    scheduler: Scheduler,
    *,
    ingest_trigger: CronTrigger | None,
    app: Any | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run the scheduler (when `ingest_trigger` is given) and/or the web app until stopped."""
    import uvicorn

    class Server(uvicorn.Server):
        # uvicorn re-raises the signals it captured once serve() returns, which would kill the
        # process before the scheduler drained; the service owns signal handling instead.
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    stop = scheduler.stop
    with stop_on_signals(stop):
        aps = None
        if ingest_trigger is not None:
            aps = scheduler.build(ingest_trigger)
            aps.start()
            log.info("scheduler started: delivery every minute, ingest %s", _ingest_plan(scheduler))
        server = server_task = None
        if app is not None and sock is not None:
            server = Server(uvicorn.Config(app, log_level="info", lifespan="auto"))
            server_task = asyncio.create_task(server.serve(sockets=[sock]))
            host, port = sock.getsockname()[:2]
            log.info("web app on http://%s:%s", host, port)
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if server_task is not None:
            waiters.append(server_task)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        if aps is not None:
            aps.pause()
            await scheduler.drain()
            aps.shutdown(wait=False)
        if server is not None and server_task is not None:
            server.should_exit = True
            await server_task
        for waiter in waiters:
            waiter.cancel()
    log.info("stopped")


def _ingest_plan(scheduler: Scheduler) -> str:
    settings = scheduler.settings
    if not settings.ingest.sources:
        return "off (no [ingest] sources)"
    return f"on {settings.schedule.ingest_cron!r} ({settings.schedule.timezone})"

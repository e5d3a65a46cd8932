"""The send run: for each reader, build the edition, claim it, compose it, send it, record it.

Shaped like listmonk's manager: the pipeline talks to a store that hands out subscribers and
claims and records results (`Ledger`) and to a messenger that takes messages and reports back
(`SmtpPool`); it runs no SQL and speaks no SMTP itself.

Streaming: the work comes in pages of (reader, edition date), from every mailable reader for a
send by hand or from the due set for a scheduler tick; the ledger is read once per page, each
reader's message is composed just before it is queued, and the queue is bounded, so memory stays
flat however many readers there are.

A reader whose stored profile no longer validates (a cadence, a time zone, a topic's query) fails
alone, loudly: a warning naming the reader and the field, and a `failed` ledger row with the
reason; every other reader is served.

Order per reader, chosen so that nothing is half-written: the edition is built and composed
first (a template error stops the run before anything is claimed), then claimed (the ledger row
and the papers it carries, committed), then queued. The row becomes `sent` only once the server
has accepted the message; see `digest.store.deliveries` for what a crash in between costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from digest.app.due import WorkPage, hand_send_pages
from digest.app.edition import EditionBuilder
from digest.app.tokens import Signer, digest_links
from digest.deliver.dkim import DkimSigner
from digest.deliver.headers import check_value, format_address
from digest.deliver.message import OutgoingMessage, compose
from digest.deliver.smtp import SendResult, SmtpPool, envelope_address
from digest.errors import DeliveryError, QueryError, StoreError
from digest.models import Subscriber
from digest.render import Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.deliveries import Claim, History, Ledger
from digest.store.subscribers import count_mailable

log = logging.getLogger(__name__)
PAGE_SIZE = 200
EventKind = Literal[
    "start", "sent", "skipped", "deferred", "failed", "bounced", "unchanged", "held"
]


@dataclass
class SendSummary:
    """What this run did (a dry run: what it would do). Readers already served are not counted."""

    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SendEvent:
    """One step of the run for a progress display. `start` carries the number of readers
    considered; every reader then yields one event: an outcome, `unchanged` (already served)
    or `held` (another sender holds it: a live one, or one that died less than
    `[smtp] claim_lease_seconds` ago, whose claims a later run takes over)."""

    kind: EventKind
    email: str | None = None
    edition: date | None = None
    error: str | None = None
    attempts: int = 0
    total: int | None = None


Progress = Callable[[SendEvent], None]


@dataclass(frozen=True, slots=True)
class _Job:
    message: OutgoingMessage
    claim: Claim
    email: str

    @property
    def recipient(self) -> str:
        return self.message.recipient

    @property
    def data(self) -> bytes:
        return self.message.data


def check_sender(settings: Settings) -> None:
    """Fail before the first claim when the sender settings cannot make a valid message:
    otherwise every reader would be marked failed for the operator's typo."""
    sender = settings.sender
    format_address(sender.from_name, sender.from_address, field="[sender] from_address")
    envelope_address(sender.from_address, role="[sender] from_address")
    if sender.reply_to:
        format_address(None, sender.reply_to, field="[sender] reply_to")
    if sender.unsubscribe_mailto:
        format_address(None, sender.unsubscribe_mailto, field="[sender] unsubscribe_mailto")
    check_value("[sender] list_id", sender.list_id)
    check_value("[digest] list_name", settings.digest.list_name)


class _Run:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        now: datetime,
        dry_run: bool,
        progress: Progress | None,
        stop: asyncio.Event,
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.dry_run = dry_run
        self.stop = stop
        self.summary = SendSummary()
        self.signer = Signer(settings.secret_keys)
        self.renderer = Renderer(settings)
        self.dkim = DkimSigner.from_settings(settings.sender)
        self.ledger = Ledger(store, lease=timedelta(seconds=settings.smtp.claim_lease_seconds))
        self._progress = progress

    def report(self, event: SendEvent) -> None:
        if event.kind in ("sent", "skipped", "deferred", "failed", "bounced"):
            setattr(self.summary, event.kind, getattr(self.summary, event.kind) + 1)
        if self._progress is not None:
            self._progress(event)

    def on_result(self, result: SendResult[_Job]) -> None:
        job = result.item
        address = job.email if result.outcome == "bounced" else None
        self.ledger.record(
            job.claim, result.outcome, attempts=result.attempts, error=result.error, address=address
        )
        self.report(
            SendEvent(result.outcome, job.email, job.claim.edition, result.error, result.attempts)
        )

    async def heartbeat(self) -> None:
        """Renew this process's claims while it lives (see the crash rule in ledger.py). A
        missed renewal is only logged: the worst it can cause is one duplicate, never a loss."""
        interval = self.settings.smtp.claim_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                self.ledger.renew()
            except StoreError as exc:
                log.warning("could not renew delivery claims: %s", exc)

    async def run(self, work: Iterable[WorkPage], total: int | None) -> None:
        self.report(SendEvent("start", total=total))
        if self.dry_run:
            await self._produce(None, work)
            return
        pool: SmtpPool[_Job] = SmtpPool(self.settings, self.on_result, self.dkim)
        beat = asyncio.create_task(self.heartbeat())
        try:
            async with pool:
                await self._produce(pool, work)
                if self.stop.is_set():
                    left = pool.abandon()
                    self.ledger.release([job.claim for job in left], "released: sender stopped")
                    for job in left:
                        self.report(SendEvent("deferred", job.email, job.claim.edition, "stopped"))
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _produce(self, pool: SmtpPool[_Job] | None, work: Iterable[WorkPage]) -> None:
        builder = EditionBuilder(self.store, self.settings, now=self.now)
        for page in work:
            if self.stop.is_set():
                return
            for bad in page.unschedulable:
                self.unservable(bad.subscriber_id, bad.email, bad.edition, bad.reason, pool)
            states = self.ledger.edition_states({s.id: day for s, day in page.editions})
            wanted: list[tuple[Subscriber, date]] = []
            for subscriber, day in page.editions:
                state = states[subscriber.id]
                if state == "open":
                    wanted.append((subscriber, day))
                else:
                    kind: EventKind = "held" if state == "held" else "unchanged"
                    self.report(SendEvent(kind, subscriber.email, day))
            history = builder.histories(wanted)
            for subscriber, day in wanted:
                if self.stop.is_set():
                    return
                await self._one(pool, builder, subscriber, day, history[subscriber.id])

    def unservable(
        self,
        subscriber_id: int,
        email: str,
        day: date,
        reason: str,
        pool: SmtpPool[_Job] | None,
    ) -> None:
        """A stored value no longer validates: this reader fails alone, once per edition, and
        the event names them and the field (shells show it; the scheduler logs it as a
        warning); a dry run only says so."""
        if pool is None or self.ledger.fail(subscriber_id, day, reason):
            self.report(SendEvent("failed", email, day, reason))

    async def _one(
        self,
        pool: SmtpPool[_Job] | None,
        builder: EditionBuilder,
        subscriber: Subscriber,
        edition_date: date,
        history: History,
    ) -> None:
        email = subscriber.email
        try:
            edition = builder.build(subscriber, edition_date, history)
        except QueryError as exc:  # a stored topic query that no longer parses
            self.unservable(subscriber.id, email, edition_date, str(exc), pool)
            return
        if edition.is_empty and not self.settings.digest.send_empty:
            if pool is None or self.ledger.claim(edition, message_id=None, status="skipped"):
                self.report(SendEvent("skipped", email, edition_date))
            return
        try:
            links = digest_links(self.settings, self.signer, subscriber.public_id)
            message = compose(edition, self.settings, links, renderer=self.renderer, now=self.now)
        except DeliveryError as exc:  # this reader's address or name; the sender was checked
            if pool is None or self.ledger.claim(
                edition, message_id=None, status="failed", error=str(exc)
            ):
                self.report(SendEvent("failed", email, edition_date, str(exc)))
            return
        if pool is None:
            self.report(SendEvent("sent", email, edition_date))
            return
        claim = self.ledger.claim(edition, message_id=message.message_id)
        if claim is None:  # another sender got there between the read and the claim
            self.report(SendEvent("held", email, edition_date))
            return
        await pool.push(_Job(message, claim, email))
        await asyncio.sleep(0)  # let the connections run between renders


async def send_editions(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    edition_date: date | None = None,
    work: Iterable[WorkPage] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> SendSummary:
    """Send each reader their edition, at most once.

    `work` None: every mailable reader, with `edition_date` or each reader's current edition
    for a send by hand (today's local date, or this week's for weekly readers); the scheduler
    passes the pages of its due set instead. `dry_run` builds and renders everything, sends and
    writes nothing. `stop` (set by a shutting-down scheduler or a signal) ends the run early:
    nothing new is claimed, messages in flight finish, queued ones are released for the next
    run. Raises ConfigError / TemplateError / DeliveryError before sending when the settings or
    templates cannot produce a valid message.
    """
    check_sender(settings)
    run = _Run(
        store,
        settings,
        now=now,
        dry_run=dry_run,
        progress=progress,
        stop=stop or asyncio.Event(),
    )
    total = None
    if work is None:
        with store.session() as session:
            total = count_mailable(session)
        work = hand_send_pages(store, now=now, edition_date=edition_date)
    await run.run(work, total)
    return run.summary

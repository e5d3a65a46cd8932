"""The send run: claim a page of deliveries, build and compose the claimed ones, send, record.

Shaped like listmonk's manager: the pipeline talks to a store that hands out claims and records
results (`Ledger`) and to a messenger that takes messages and reports back (`SmtpPool`); it runs
no SQL and speaks no SMTP itself.

The work comes in pages of (reader, edition date): every mailable reader for a send by hand, or
the due set for a scheduler tick. Per page, in this order:

1. claim: one statement takes every delivery of the page nobody holds (`Ledger.claim_page`), so
   any number of senders, on any number of machines, split the work *before* anything is built;
2. build the claimed editions against one shared index (the ledger read once for the page);
3. prepare: one statement records what each edition carries, before anything is sent;
4. compose each message just before it is queued (the queue is bounded: memory stays flat);
5. record the server's answers in batches.

A template error stops the run before the first claim (the renderer test-renders at start), and
a row becomes `sent` only once the server has accepted the message; see
`digest.store.deliveries` for what a crash in between costs. A reader whose stored profile no
longer validates fails alone, loudly, with a `failed` row and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
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
from digest.inbound.verp import VerpCodec
from digest.models import Edition, Subscriber
from digest.render import Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.deliveries import Claim, Ledger, Result
from digest.store.editions import settled
from digest.store.subscribers import count_mailable

log = logging.getLogger(__name__)
EventKind = Literal[
    "start", "sent", "skipped", "deferred", "failed", "bounced", "unchanged", "held", "resumed"
]
OUTCOMES = ("sent", "skipped", "deferred", "failed", "bounced")


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

    @property
    def nothing_accepted(self) -> bool:
        """There were messages to hand over and the server took none: it is down (or refuses
        every connection). Cron, monitors and alerts must see this as a failure; a partial
        success is not one."""
        return self.sent == 0 and self.deferred > 0


@dataclass(frozen=True, slots=True)
class SendEvent:
    """One step of the run for a progress display. `start` carries the number of readers
    considered (when known); every reader then yields one event: an outcome, `unchanged`
    (already served) or `held` (another sender holds it: `error` is "live" when that sender is
    provably alive, "unknown" when only its lease, `[smtp] claim_lease_seconds`, can tell).
    `resumed` carries in `total` how many claims were taken over from senders that died."""

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
        self.lease = timedelta(seconds=settings.smtp.claim_lease_seconds)
        self.ledger: Ledger | None = None
        self._progress = progress
        self._pending: list[tuple[Result, str]] = []  # results not yet written, with the address
        self._flush_soon = False
        # Whether any edition built had new papers to choose from (None: none built yet).
        self.had_candidates: bool | None = None

    def report(self, event: SendEvent) -> None:
        if event.kind in OUTCOMES:
            setattr(self.summary, event.kind, getattr(self.summary, event.kind) + 1)
        if self._progress is not None:
            self._progress(event)

    # -- results ----------------------------------------------------------------------------

    def on_result(self, result: SendResult[_Job]) -> None:
        job = result.item
        address = job.email if result.outcome == "bounced" else None
        self.finish(
            Result(job.claim, result.outcome, result.attempts, result.error, address), job.email
        )

    def finish(self, result: Result, email: str) -> None:
        """Results are written at the next turn of the event loop: those that arrive together
        (many connections finishing at once) share one statement, and none waits longer than
        the loop takes to come round, so a crash loses no more than what was in flight."""
        self._pending.append((result, email))
        if not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_soon = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        assert self.ledger is not None
        self.ledger.record([result for result, _ in pending])
        for result, email in pending:
            self.report(
                SendEvent(
                    result.outcome, email, result.claim.edition, result.error, result.attempts
                )
            )

    async def heartbeat(self) -> None:
        """Renew this process's claims while it lives (see the crash rule in
        digest.store.deliveries). A missed renewal is only logged: the worst it can cause is
        one duplicate, never a loss."""
        assert self.ledger is not None
        while True:
            await asyncio.sleep(self.settings.smtp.claim_lease_seconds / 3)
            try:
                self.ledger.renew()
            except StoreError as exc:
                log.warning("could not renew delivery claims: %s", exc)

    # -- the run ----------------------------------------------------------------------------

    async def run(self, work: Iterable[WorkPage], total: int | None) -> None:
        self.report(SendEvent("start", total=total))
        try:
            await self._run(work)
        finally:
            if self.had_candidates is False:
                log.warning(
                    "the sources returned no new papers for any edition of this run: every "
                    "digest is empty (is `digest ingest` running, and do its sources answer?)"
                )

    async def _run(self, work: Iterable[WorkPage]) -> None:
        if self.dry_run:
            await self._produce(None, work)
            return
        self.ledger = Ledger(self.store, lease=self.lease)
        pool: SmtpPool[_Job] = SmtpPool(
            self.settings, self.on_result, self.dkim, envelope_sender=self._envelope_sender()
        )
        chores = asyncio.create_task(self.heartbeat())
        try:
            async with pool:
                await self._produce(pool, work)
                if self.stop.is_set():
                    left = pool.abandon()
                    self.ledger.release([job.claim for job in left], "released: sender stopped")
                    for job in left:
                        self.report(SendEvent("deferred", job.email, job.claim.edition, "stopped"))
        finally:
            chores.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chores
            try:
                self.flush()
            finally:
                self.ledger.close()

    def _envelope_sender(self) -> Callable[[_Job], str] | None:
        """With `[bounces] domain`, each digest's bounce address names its delivery (VERP)."""
        domain = self.settings.bounces.domain
        if domain is None:
            return None
        codec = VerpCodec(self.settings.secret_keys, domain)
        return lambda job: codec.address(job.claim.delivery_id)

    async def _produce(self, pool: SmtpPool[_Job] | None, work: Iterable[WorkPage]) -> None:
        builder: EditionBuilder | None = None
        for page in work:
            if self.stop.is_set():
                return
            for bad in page.unschedulable:
                self.unservable(bad.subscriber_id, bad.email, bad.edition, bad.reason)
            claimed = self._claim(page.editions)
            if not claimed:
                continue
            builder = builder or EditionBuilder(self.store, self.settings, now=self.now)
            history = builder.histories([(s, day) for s, day, _ in claimed])
            built: list[tuple[Subscriber, Edition, Claim | None]] = []
            for subscriber, day, claim in claimed:
                try:
                    edition = builder.build(subscriber, day, history[subscriber.id])
                except QueryError as exc:  # a stored topic query that no longer parses
                    self._fail(claim, subscriber, day, str(exc))
                    continue
                built.append((subscriber, edition, claim))
                self.had_candidates = bool(self.had_candidates) or bool(edition.candidate_count)
            await self._send_page(pool, built)

    def _claim(
        self, editions: Sequence[tuple[Subscriber, date]]
    ) -> list[tuple[Subscriber, date, Claim | None]]:
        """The page's editions this process is to build (a dry run: those still open)."""
        if self.ledger is None:  # dry run: read, never write
            with self.store.session() as session:
                done = settled(session, {s.id: d for s, d in editions}, self.now - self.lease)
            for subscriber, day in editions:
                if subscriber.id in done:
                    self.report(SendEvent("unchanged", subscriber.email, day))
            return [(s, d, None) for s, d in editions if s.id not in done]
        page = self.ledger.claim_page([(s.id, d) for s, d in editions])
        if page.taken_over:
            self.report(SendEvent("resumed", total=page.taken_over))
        for kind, ids, detail in (
            ("held", page.live, "live"),
            ("held", page.unknown, "unknown"),
            ("unchanged", page.done, None),
        ):
            for subscriber, day in editions:
                if subscriber.id in ids:
                    self.report(SendEvent(kind, subscriber.email, day, detail))  # type: ignore[arg-type]
        return [(s, d, page.claims[s.id]) for s, d in editions if s.id in page.claims]

    def unservable(self, subscriber_id: int, email: str, day: date, reason: str) -> None:
        """A stored value no longer validates: this reader fails alone, once per edition, and
        the event names them and the field (shells show it; the scheduler logs it as a
        warning); a dry run only says so."""
        if self.ledger is None or self.ledger.fail(subscriber_id, day, reason):
            self.report(SendEvent("failed", email, day, reason))

    def _fail(self, claim: Claim | None, subscriber: Subscriber, day: date, reason: str) -> None:
        if claim is None:
            self.report(SendEvent("failed", subscriber.email, day, reason))
        else:
            self.finish(Result(claim, "failed", error=reason), subscriber.email)

    async def _send_page(
        self, pool: SmtpPool[_Job] | None, built: list[tuple[Subscriber, Edition, Claim | None]]
    ) -> None:
        empty_ok = self.settings.digest.send_empty
        messages: list[tuple[Subscriber, Edition, Claim | None, OutgoingMessage | None]] = []
        for subscriber, edition, claim in built:
            if edition.is_empty and not empty_ok:
                messages.append((subscriber, edition, claim, None))
                continue
            try:
                links = digest_links(
                    self.settings,
                    self.signer,
                    subscriber.public_id,
                    [m.paper.id for m in edition.papers],
                    edition=edition.date,
                )
                composed = compose(
                    edition, self.settings, links, renderer=self.renderer, now=self.now
                )
            except DeliveryError as exc:  # this reader's address or name; the sender was checked
                self._fail(claim, subscriber, edition.date, str(exc))
                continue
            messages.append((subscriber, edition, claim, composed))
        if self.ledger is not None:
            self.ledger.prepare(
                [(c, e, m.message_id if m else None) for _, e, c, m in messages if c is not None]
            )
        for subscriber, edition, claim, message in messages:
            if message is None:  # nothing new, and send_empty is off
                if claim is None:
                    self.report(SendEvent("skipped", subscriber.email, edition.date))
                else:
                    self.finish(Result(claim, "skipped"), subscriber.email)
            elif pool is None or claim is None:
                self.report(SendEvent("sent", subscriber.email, edition.date))
            else:
                if self.stop.is_set():
                    self._give_back(claim, subscriber.email)
                    continue
                await pool.push(_Job(message, claim, subscriber.email))
                await asyncio.sleep(0)  # let the connections run between renders
        if self.ledger is not None:
            self.flush()  # the page's skipped and failed ones, with whatever came back

    def _give_back(self, claim: Claim, email: str) -> None:
        """A claim made before a stop was asked for, never queued: given back at once."""
        assert self.ledger is not None
        self.ledger.release([claim], "released: sender stopped")
        self.report(SendEvent("deferred", email, claim.edition, "stopped"))


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

"""The send run: claim a page of deliveries, build and compose the claimed ones, send, record.

Shaped like listmonk's manager: the pipeline talks to a store that hands out claims and records
results (`Ledger`) and to a messenger that takes messages and reports back (`SmtpPool`); it runs
no SQL and speaks no SMTP itself.

The work comes in pages of (reader, edition date): every mailable reader for a send by hand, or
the due set for a scheduler tick. Per page, in this order:

1. claim: one statement takes every delivery of the page nobody holds (`Ledger.claim_page`), so
   any number of senders, on any number of machines, split the work *before* anything is built;
2. read the page's history from the ledger (a couple of statements for the page);
3. per chunk of `CHUNK` readers: build and compose each, handing the event loop back to the
   connections between two readers; then one statement records what each edition carries
   (prepare), before any of them is sent;
4. queue the chunk for the connections while the next one is composed (one chunk ahead at
   most: memory stays flat, and the connections never wait for a whole page to be built);
5. record the server's answers in batches (`digest.app.send_results`).

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
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from digest.app.due import Mailbox, Reader, WorkPage, hand_send_mailboxes, load_readers
from digest.app.edition import EditionBuilder
from digest.app.send_events import OUTCOMES, Progress, SendEvent, SendSummary, check_sender
from digest.app.send_results import Results
from digest.app.tokens import Signer, digest_links
from digest.deliver.dkim import DkimSigner
from digest.deliver.message import OutgoingMessage, compose
from digest.deliver.smtp import SendResult, SmtpPool
from digest.errors import DeliveryError, QueryError, StoreError
from digest.inbound.verp import VerpCodec
from digest.models import Edition, Subscriber
from digest.render import Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.deliveries import Claim, Ledger, Result
from digest.store.editions import History, settled
from digest.store.subscribers import count_mailable

log = logging.getLogger(__name__)
__all__ = ["SendEvent", "SendSummary", "check_sender", "send_editions"]
# The pages of a run: readers with their whole profiles (the scheduler's due set), or named only
# (a send by hand), their profiles loaded once claimed.
Work = Iterable[WorkPage[Subscriber]] | Iterable[WorkPage[Mailbox]]
# Readers built, composed and prepared (one ledger statement) together, then queued while the
# next ones are composed. Small enough that a chunk of ~40 KB messages stays a few MB.
CHUNK = 64


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
        self.results: Results | None = None
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
        assert self.results is not None
        self.results.add(
            Result(job.claim, result.outcome, result.attempts, result.error, address), job.email
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

    async def run(self, work: Work, total: int | None) -> None:
        self.report(SendEvent("start", total=total))
        try:
            await self._run(work)
        finally:
            if self.had_candidates is False:
                log.warning(
                    "the sources returned no new papers for any edition of this run: every "
                    "digest is empty (is `digest ingest` running, and do its sources answer?)"
                )

    async def _run(self, work: Work) -> None:
        if self.dry_run:
            await self._produce(None, work)
            return
        self.ledger = Ledger(self.store, lease=self.lease)
        self.results = Results(self.ledger, self.report, every=self.settings.smtp.concurrency)
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
                self.results.flush()
            finally:
                self.ledger.close()

    def _envelope_sender(self) -> Callable[[_Job], str] | None:
        """With `[bounces] domain`, each digest's bounce address names its delivery (VERP)."""
        domain = self.settings.bounces.domain
        if domain is None:
            return None
        codec = VerpCodec(self.settings.secret_keys, domain)
        return lambda job: codec.address(job.claim.delivery_id)

    async def _produce(self, pool: SmtpPool[_Job] | None, work: Work) -> None:
        """Compose chunk after chunk while a feeder hands the previous one to the connections."""
        chunks: asyncio.Queue[list[_Job] | None] = asyncio.Queue(maxsize=1)
        feeder = asyncio.create_task(self._feed(pool, chunks)) if pool is not None else None
        builder: EditionBuilder | None = None
        try:
            for page in work:
                if self.stop.is_set():
                    return
                for bad in page.unschedulable:
                    self.unservable(bad.subscriber_id, bad.email, bad.edition, bad.reason)
                claimed = self._profiles(self._claim(page.editions))
                if not claimed:
                    continue
                builder = builder or EditionBuilder(self.store, self.settings, now=self.now)
                history = builder.histories([(s, day) for s, day, _ in claimed])
                for start in range(0, len(claimed), CHUNK):
                    if self.stop.is_set():
                        self._give_back_unbuilt(claimed[start:])
                        return
                    jobs = await self._compose_chunk(
                        builder, history, claimed[start : start + CHUNK], live=pool is not None
                    )
                    if jobs and feeder is not None:
                        await _hand_over(chunks, feeder, jobs)
        finally:
            if feeder is not None:
                if not feeder.done():
                    await chunks.put(None)
                await feeder

    async def _feed(
        self, pool: SmtpPool[_Job] | None, chunks: asyncio.Queue[list[_Job] | None]
    ) -> None:
        assert pool is not None
        while (jobs := await chunks.get()) is not None:
            for job in jobs:
                if self.stop.is_set():
                    self._give_back(job.claim, job.email)
                else:
                    await pool.push(job)

    def _claim(
        self, editions: Sequence[tuple[Reader, date]]
    ) -> list[tuple[Reader, date, Claim | None]]:
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
            ("held", set(page.live), "live"),
            ("held", set(page.unknown), "unknown"),
            ("unchanged", set(page.done), None),
        ):
            for subscriber, day in editions:
                if subscriber.id in ids:
                    self.report(SendEvent(kind, subscriber.email, day, detail))  # type: ignore[arg-type]
        return [(s, d, page.claims[s.id]) for s, d in editions if s.id in page.claims]

    def _profiles(
        self, claimed: Sequence[tuple[Reader, date, Claim | None]]
    ) -> list[tuple[Subscriber, date, Claim | None]]:
        """The whole profiles of the readers this process won, in one statement."""
        claims = {reader.id: claim for reader, _, claim in claimed}
        loaded = load_readers(self.store, [(reader, day) for reader, day, _ in claimed])
        return [(subscriber, day, claims[subscriber.id]) for subscriber, day in loaded]

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
            assert self.results is not None
            self.results.keep(Result(claim, "failed", error=reason), subscriber.email)

    async def _compose_chunk(
        self,
        builder: EditionBuilder,
        history: dict[int, History],
        claimed: Sequence[tuple[Subscriber, date, Claim | None]],
        *,
        live: bool,
    ) -> list[_Job]:
        """Build and compose a chunk, prepare it in the ledger; the jobs ready to queue."""
        empty_ok = self.settings.digest.send_empty
        built: list[tuple[Subscriber, Edition, Claim | None, OutgoingMessage | None]] = []
        for subscriber, day, claim in claimed:
            if self.results is not None and self.results.broken is not None:
                raise self.results.broken
            try:
                edition = builder.build(subscriber, day, history[subscriber.id])
            except QueryError as exc:  # a stored topic query that no longer parses
                self._fail(claim, subscriber, day, str(exc))
                continue
            self.had_candidates = bool(self.had_candidates) or bool(edition.candidate_count)
            message = None
            if not edition.is_empty or empty_ok:
                try:
                    message = self._compose(subscriber, edition)
                except DeliveryError as exc:  # this reader's address or name
                    self._fail(claim, subscriber, edition.date, str(exc))
                    continue
            built.append((subscriber, edition, claim, message))
            if live:
                await asyncio.sleep(0)  # the connections' answers are read between two readers
        if self.ledger is not None:
            self.ledger.prepare(
                [(c, e, m.message_id if m else None) for _, e, c, m in built if c is not None]
            )
        jobs: list[_Job] = []
        for subscriber, edition, claim, message in built:
            if message is None:  # nothing new, and send_empty is off
                if claim is None:
                    self.report(SendEvent("skipped", subscriber.email, edition.date))
                else:
                    assert self.results is not None
                    self.results.keep(Result(claim, "skipped"), subscriber.email)
            elif not live or claim is None:
                self.report(SendEvent("sent", subscriber.email, edition.date))
            else:
                jobs.append(_Job(message, claim, subscriber.email))
        if self.results is not None:
            self.results.flush()  # the chunk's skipped and failed ones, with what came back
        return jobs

    def _compose(self, subscriber: Subscriber, edition: Edition) -> OutgoingMessage:
        links = digest_links(
            self.settings,
            self.signer,
            subscriber.public_id,
            [m.paper.id for m in edition.papers],
            edition=edition.date,
        )
        return compose(edition, self.settings, links, renderer=self.renderer, now=self.now)

    def _give_back(self, claim: Claim, email: str) -> None:
        """A claim made before a stop was asked for, never queued: given back at once."""
        assert self.ledger is not None
        self.ledger.release([claim], "released: sender stopped")
        self.report(SendEvent("deferred", email, claim.edition, "stopped"))

    def _give_back_unbuilt(self, claimed: Sequence[tuple[Subscriber, date, Claim | None]]) -> None:
        """The rest of a page claimed before a stop was asked for: given back in one statement."""
        claims = [(s, c) for s, _, c in claimed if c is not None]
        if self.ledger is not None and claims:
            self.ledger.release([c for _, c in claims], "released: sender stopped")
        for subscriber, claim in claims:
            self.report(SendEvent("deferred", subscriber.email, claim.edition, "stopped"))


async def _hand_over(
    chunks: asyncio.Queue[list[_Job] | None], feeder: asyncio.Task[None], jobs: list[_Job]
) -> None:
    """Queue a chunk for the feeder; if the feeder died (the pool broke), raise its error
    instead of waiting for room that will never come."""
    put = asyncio.ensure_future(chunks.put(jobs))
    await asyncio.wait({put, feeder}, return_when=asyncio.FIRST_COMPLETED)
    if not put.done():
        put.cancel()
        feeder.result()
        raise RuntimeError("the SMTP feeder stopped early")


async def send_editions(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    edition_date: date | None = None,
    work: Iterable[WorkPage[Subscriber]] | None = None,
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
    pages: Work | None = work
    if pages is None:
        with store.session() as session:
            total = count_mailable(session)
        pages = hand_send_mailboxes(store, now=now, edition_date=edition_date)
    await run.run(pages, total)
    return run.summary

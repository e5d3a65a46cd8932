"""Who is due for which edition at an instant: the one question the scheduler asks the database.

A subscriber is due when the slot of their *current* edition (the newest whose local send time has
passed, `Schedule.current_edition`) is at most `[schedule] catch_up_hours` old and the ledger holds
no final outcome for that (subscriber, edition). Only the current edition is ever considered, so a
long outage costs the missed editions instead of mailing them in a burst, and each subscriber is
due for one edition at most.

The answer depends only on the database state and the instant passed in (no clock is read here),
so a test can walk months of minutes through it, and two processes asking at once get the same
answer: which of them actually sends is settled by the ledger's unique (subscriber, edition) claim.

Readers are read a page at a time by id, and each page's ledger rows in one statement, so the
work and the memory stay flat however many readers there are. A reader whose stored schedule no
longer validates is reported (`Unschedulable`, naming the field) and everyone else is served.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from digest.errors import InvalidValue
from digest.models import Subscriber
from digest.profiles.cadence import (
    Schedule,
    hand_send_edition,
    parse_schedule,
    parse_timezone,
)
from digest.settings import Settings
from digest.store import Store
from digest.store.editions import settled
from digest.store.subscribers import ScheduleRow, by_ids, schedule_page

PAGE_SIZE = 1000
# A send by hand claims a page at a time and loads the profiles it won: small pages split the
# readers finely between several senders and keep memory flat.
HAND_SEND_PAGE = 200


@dataclass(frozen=True, slots=True)
class Due:
    """One subscriber's edition that should be sent now; `slot` is when it was meant to go (UTC)."""

    subscriber: Subscriber
    edition: date
    slot: datetime


@dataclass(frozen=True, slots=True)
class Unschedulable:
    """A reader whose stored cadence, send time or time zone no longer validates. `edition` is
    the date a failure is recorded under (their local date when the zone is valid, else UTC)."""

    subscriber_id: int
    email: str
    edition: date
    reason: str  # "cadence: expected 'daily' or …, got 'fortnightly'"

    def describe(self) -> str:
        return f"subscriber {self.email}: {self.reason}"


@dataclass(slots=True)
class DuePage:
    due: list[Due] = field(default_factory=list)
    unschedulable: list[Unschedulable] = field(default_factory=list)


def catch_up_window(settings: Settings) -> timedelta:
    return timedelta(hours=settings.schedule.catch_up_hours)


def _local_date(timezone: str, at: datetime) -> date:
    try:
        return at.astimezone(parse_timezone(timezone)).date()
    except InvalidValue:
        return at.date()


def due_pages(
    store: Store, at: datetime, settings: Settings, *, page_size: int = PAGE_SIZE
) -> Iterator[DuePage]:
    """Every mailable subscriber's current edition that is due at `at` (aware), a page of
    readers at a time (by id), oldest slot first within a page."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("due_pages needs an aware datetime (naive instants are ambiguous)")
    window = catch_up_window(settings)
    stale = at - timedelta(seconds=settings.smtp.claim_lease_seconds)
    # Readers share a few hundred (cadence, send time, zone) triples at most: resolve each once.
    current: dict[tuple[str, str, str], tuple[date, datetime] | str] = {}
    for rows in _pages(store, only_mailable=True, page_size=page_size):
        page = DuePage()
        slots: dict[int, tuple[date, datetime]] = {}
        for subscriber_id, email, cadence, send_time, timezone in rows:
            key = (cadence, send_time, timezone)
            if key not in current:
                current[key] = _current(key, at)
            found = current[key]
            if isinstance(found, str):
                day = _local_date(timezone, at)
                page.unschedulable.append(Unschedulable(subscriber_id, email, day, found))
            elif at - found[1] <= window:
                slots[subscriber_id] = found
        if slots:
            with store.session() as session:
                done = settled(session, {i: day for i, (day, _) in slots.items()}, stale)
                pending = [i for i in slots if i not in done]
                readers = by_ids(session, pending) if pending else []
            page.due = sorted(
                (Due(s, *slots[s.id]) for s in readers), key=lambda d: (d.slot, d.subscriber.id)
            )
        if page.due or page.unschedulable:
            yield page


def _pages(store: Store, *, only_mailable: bool, page_size: int) -> Iterator[list[ScheduleRow]]:
    """Schedule rows a page at a time, each page in its own short transaction."""
    after = 0
    while True:
        with store.session() as session:
            rows = schedule_page(
                session, after_id=after, limit=page_size, only_mailable=only_mailable
            )
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _current(key: tuple[str, str, str], at: datetime) -> tuple[date, datetime] | str:
    try:
        schedule: Schedule = parse_schedule(*key)
    except InvalidValue as exc:
        return str(exc)
    edition = schedule.current_edition(at)
    return edition, schedule.slot(edition)


def stored_schedule_problems(store: Store) -> Iterator[str]:
    """Every stored profile (whatever its status) whose schedule no longer validates, described:
    the service warns about them at start-up and serves everyone else."""
    for rows in _pages(store, only_mailable=False, page_size=PAGE_SIZE):
        for _id, email, cadence, send_time, timezone in rows:
            try:
                parse_schedule(cadence, send_time, timezone)
            except InvalidValue as exc:
                yield f"subscriber {email}: {exc}"


class Reader(Protocol):
    """Who a page of work names: enough to claim their edition and to report about them."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A reader named by a page before anyone claimed their edition: their whole profile is
    loaded only by the sender that wins the claim."""

    id: int
    email: str


R = TypeVar("R", bound=Reader)


@dataclass(slots=True)
class WorkPage(Generic[R]):
    """Readers to serve, each with the edition date they are due; and those whose stored
    schedule no longer validates."""

    editions: list[tuple[R, date]] = field(default_factory=list)
    unschedulable: list[Unschedulable] = field(default_factory=list)


def hand_send_mailboxes(
    store: Store, *, now: datetime, edition_date: date | None, page_size: int = HAND_SEND_PAGE
) -> Iterator[WorkPage[Mailbox]]:
    """Every mailable reader, a page at a time by id, with the edition a send by hand is for
    (`edition_date`, or each reader's current one), from the schedule columns alone: several
    senders walking the same readers claim before anyone loads a profile."""
    # Readers share a few hundred (cadence, send time, zone) triples at most: resolve each once.
    editions: dict[tuple[str, str, str], date | str] = {}
    for rows in _pages(store, only_mailable=True, page_size=page_size):
        page: WorkPage[Mailbox] = WorkPage()
        for subscriber_id, email, cadence, send_time, timezone in rows:
            key = (cadence, send_time, timezone)
            if key not in editions:
                editions[key] = _hand_send_edition(key, now)
            day = editions[key]
            if isinstance(day, str):
                page.unschedulable.append(Unschedulable(subscriber_id, email, now.date(), day))
            else:
                page.editions.append((Mailbox(subscriber_id, email), edition_date or day))
        yield page


def _hand_send_edition(key: tuple[str, str, str], now: datetime) -> date | str:
    try:
        return hand_send_edition(*key, now)
    except InvalidValue as exc:
        return str(exc)


def hand_send_pages(
    store: Store, *, now: datetime, edition_date: date | None, page_size: int = HAND_SEND_PAGE
) -> Iterator[WorkPage[Subscriber]]:
    """`hand_send_mailboxes` with each reader's whole profile, for those who build every
    edition of the page (preview)."""
    for page in hand_send_mailboxes(store, now=now, edition_date=edition_date, page_size=page_size):
        yield WorkPage(load_readers(store, page.editions), page.unschedulable)


def load_readers(store: Store, editions: Sequence[tuple[R, date]]) -> list[tuple[Subscriber, date]]:
    """The profiles of a page's readers, in one statement (those loaded already are kept); a
    reader removed meanwhile is left out."""
    missing = [reader.id for reader, _ in editions if not isinstance(reader, Subscriber)]
    loaded: dict[int, Subscriber] = {}
    if missing:
        with store.session() as session:
            loaded = {s.id: s for s in by_ids(session, missing)}
    out = []
    for reader, day in editions:
        found = reader if isinstance(reader, Subscriber) else loaded.get(reader.id)
        if found is not None:
            out.append((found, day))
    return out

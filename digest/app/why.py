"""Why a reader did or did not get a digest: "the job ran, no mail arrived", answered.

Nothing here decides anything of its own. The edition due comes from the reader's `Schedule`
(as the scheduler and `digest send` work it out), the catch-up window from `app.due`, the
ledger's state and the lease rule from the store, and the papers from `app.edition.explain`,
which builds the edition exactly as a send would and counts what each rule dropped. An edition
already built is rebuilt as of its own `candidates_until`, so the counts are those it was sent
with, not today's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from digest.app.due import catch_up_window
from digest.app.edition import EditionBuilder, Selection, explain
from digest.errors import ConfigError, InvalidValue, QueryError
from digest.models import Subscriber
from digest.profiles.cadence import Schedule, parse_schedule
from digest.settings import Settings
from digest.store import Store
from digest.store.editions import History
from digest.store.stats import DeliveryRecord, reader_deliveries
from digest.store.subscribers import membership_by_email
from digest.store.suppressions import Suppression, suppression_of

RECENT = 10
STATE_WORDS = {
    "sent": "sent",
    "skipped": "skipped: nothing to send",
    "deferred": "deferred: the server did not take it; the next run retries",
    "failed": "failed for good",
    "bounced": "bounced: the recipient's server refused it",
    "queued": "queued: a sender is on it",
}


@dataclass(slots=True)
class Why:
    """The answer, as data; `reasons` are the sentences a person reads."""

    subscriber: Subscriber
    state: str
    edition: date | None = None
    slot: datetime | None = None
    suppression: Suppression | None = None
    delivery: DeliveryRecord | None = None
    selection: Selection | None = None
    last_answer: str | None = None
    recent: list[DeliveryRecord] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return self.subscriber.email


def why(
    store: Store,
    settings: Settings,
    email: str,
    *,
    now: datetime,
    edition_date: date | None = None,
) -> Why:
    """Explain `email`'s edition of `edition_date`, or of the newest slot that has passed."""
    stale = now - timedelta(seconds=settings.smtp.claim_lease_seconds)
    with store.session() as session:
        member = membership_by_email(session, email)
        suppression = suppression_of(session, email)
        if member is None:
            extra = f" (suppressed since {_day(suppression.since)})" if suppression else ""
            raise ConfigError(f"no subscriber with the address {email!r}{extra}")
        subscriber = member.subscriber
        recent = reader_deliveries(session, subscriber.id, stale=stale, limit=RECENT)
        confirmed, unsubscribed = member.confirmed_at, member.unsubscribed_at
    answer = Why(subscriber, state="", suppression=suppression, recent=recent)
    answer.last_answer = next((d.last_error for d in recent if d.last_error), None)
    answer.reasons.append(_status_line(subscriber, confirmed, unsubscribed))
    if suppression is not None:
        answer.reasons.append(
            f"suppressed since {_day(suppression.since)}: {suppression.reason}; "
            "nothing is mailed to this address until `digest suppressions lift` removes it"
        )
    profile = subscriber.profile
    try:
        schedule = parse_schedule(profile.cadence, profile.send_time, profile.timezone)
    except InvalidValue as exc:
        answer.state = "unschedulable"
        answer.reasons.append(f"the stored profile no longer validates: {exc}")
        return answer
    answer.edition, answer.slot = _edition(schedule, now, edition_date, recent)
    with store.session() as session:
        found = reader_deliveries(session, subscriber.id, stale=stale, edition=answer.edition)
    answer.delivery = found[0] if found else None
    answer.reasons.append(_schedule_line(subscriber, schedule, answer.edition, answer.slot, now))
    answer.state = _state(answer, settings, now)
    answer.reasons.extend(_ledger_lines(answer, settings, now))
    try:
        answer.selection = _selection(store, settings, subscriber, answer, now)
    except QueryError as exc:
        answer.reasons.append(f"its topics cannot be matched: {exc}")
        return answer
    answer.reasons.extend(_selection_lines(answer, settings))
    return answer


def _day(instant: datetime) -> str:
    return instant.date().isoformat()


def _minute(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")


def _edition(
    schedule: Schedule, now: datetime, wanted: date | None, recent: list[DeliveryRecord]
) -> tuple[date, datetime]:
    """The edition asked for; else the newest whose slot has passed, unless a send by hand
    already made this period's (before its slot): that is the one the reader had."""
    if wanted is not None:
        return wanted, schedule.slot(wanted)
    edition = schedule.current_edition(now)
    by_hand = schedule.edition_for_hand_send(now)
    if by_hand != edition and any(d.edition == by_hand for d in recent):
        edition = by_hand
    return edition, schedule.slot(edition)


def _status_line(
    subscriber: Subscriber, confirmed: datetime | None, unsubscribed: datetime | None
) -> str:
    status = subscriber.status
    if status == "active":
        since = f" since {_day(confirmed)}" if confirmed else ""
        return f"status active{since}: mailed on schedule"
    if status == "pending":
        return "status pending: the address was never confirmed, so nothing is sent to it"
    if status == "unsubscribed":
        when = f" on {_day(unsubscribed)}" if unsubscribed else ""
        return f"status unsubscribed{when}: nothing is sent any more"
    return "status bounced: mail to this address came back, so nothing is sent to it"


def _schedule_line(
    subscriber: Subscriber, schedule: Schedule, edition: date, slot: datetime, now: datetime
) -> str:
    profile = subscriber.profile
    when = "is due" if slot > now else "was due"
    return (
        f"cadence {schedule.cadence} at {profile.send_time} {profile.timezone}: "
        f"the edition of {edition.isoformat()} {when} at {_minute(slot)}"
    )


def _state(answer: Why, settings: Settings, now: datetime) -> str:
    """One word: what happened to this edition. A digest that went out says `sent` whatever
    came later; otherwise what stops the reader being mailed comes before the ledger."""
    delivery = answer.delivery
    if delivery is not None and delivery.status == "sent":
        return "sent"
    if answer.suppression is not None:
        return "suppressed"
    if answer.subscriber.status != "active":
        return answer.subscriber.status
    if delivery is not None:
        return delivery.status
    assert answer.slot is not None
    if answer.slot > now:
        return "scheduled"
    if now - answer.slot <= catch_up_window(settings):
        return "due"
    return "missed"


def _ledger_lines(answer: Why, settings: Settings, now: datetime) -> list[str]:
    delivery = answer.delivery
    if delivery is None:
        if answer.state == "due":
            return [
                "not sent yet: the next scheduler tick (every minute) or `digest send` sends it"
            ]
        if answer.state == "missed":
            hours = settings.schedule.catch_up_hours
            return [
                f"missed: its slot is more than {hours:g} h old ([schedule] catch_up_hours) and "
                "no run sent it; the scheduler waits for the next edition, a `digest send` by "
                "hand sends this one"
            ]
        if answer.state == "scheduled":
            return ["not due yet"]
        return ["no delivery was recorded for this edition"]
    words = STATE_WORDS.get(delivery.status, delivery.status)
    line = f"ledger: {words}"
    if delivery.status == "sent" and delivery.sent_at is not None:
        line += f" at {_minute(delivery.sent_at)}"
    if delivery.message_id:
        line += f" (Message-ID {delivery.message_id})"
    if delivery.attempts:
        line += f", {delivery.attempts} attempt(s)"
    if delivery.status == "queued" and delivery.open:
        line += "; its sender stopped renewing the claim, so the next run takes it over"
    lines = [line]
    if delivery.last_error:
        lines.append(f"last SMTP answer: {delivery.last_error}")
    elif delivery.status == "sent":
        lines.append("last SMTP answer: accepted (250) by the server")
    return lines


def _selection(
    store: Store, settings: Settings, subscriber: Subscriber, answer: Why, now: datetime
) -> Selection:
    """The edition rebuilt as a send builds it: as of its own cut-off when it was built, with
    the papers it carried not counted as "sent before"."""
    assert answer.edition is not None
    delivery = answer.delivery
    at = delivery.candidates_until if delivery and delivery.candidates_until else now
    builder = EditionBuilder(store, settings, now=at)
    found = builder.histories([(subscriber, answer.edition)])[subscriber.id]
    if delivery is not None and delivery.papers:
        found = History(found.previous_until, found.sent - delivery.papers)
    return explain(builder, subscriber, answer.edition, found)


def _selection_lines(answer: Why, settings: Settings) -> list[str]:
    selection = answer.selection
    assert selection is not None
    profile = answer.subscriber.profile
    edition = selection.edition
    lines = [
        f"{selection.candidates} candidate paper(s) in its window; "
        f"{selection.matched} matched the topics"
    ]
    if selection.below_upvotes:
        lines.append(
            f"{selection.below_upvotes} filtered out by min_upvotes {profile.min_upvotes} "
            "(fewer upvotes than the reader asks for)"
        )
    if selection.already_sent:
        lines.append(f"{selection.already_sent} filtered out: already sent in an earlier edition")
    carried = f"{len(edition.papers)} paper(s) for the topics"
    if edition.trending:
        carried += f" and {len(edition.trending)} trending"
    if not profile.topics:
        carried = f"no topics; {len(edition.trending)} trending paper(s)"
    lines.append(f"the edition carries {carried}")
    if edition.is_empty and not settings.digest.send_empty:
        lines.append("an empty edition is skipped ([digest] send_empty is off)")
    return lines

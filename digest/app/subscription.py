"""The double opt-in workflow as explicit steps (after Mailman's subscription workflow):
request → confirmation mail → confirm → welcome; and unsubscribe. Pure store logic: the web app
decides nothing itself, it asks these functions and sends the notice they name.

Rules that protect readers and the list's reputation:
- A sign-up for a confirmed address never downgrades it to pending; the owner gets an "already
  subscribed, manage it here" notice instead (nobody can reset someone else's subscription).
- An unsubscribed address that signs up again starts over as pending and must confirm again.
- Suppressed (bounced, complained) addresses get nothing.
- At most one notice per address per confirmation window, whatever is submitted: the window is
  claimed before the mail is sent and given back if the mail server does not take it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from digest.models import Profile, Subscriber
from digest.store.schema import SubscriberRow, SuppressionRow
from digest.store.subscribers import (
    create,
    email_key,
    get_row_by_email,
    get_row_by_public_id,
    is_suppressed,
    set_status,
    to_subscriber,
    update_profile,
)


class Step(StrEnum):
    SEND_CONFIRMATION = "send-confirmation"
    SEND_ALREADY_SUBSCRIBED = "send-already-subscribed"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class SignupDecision:
    step: Step
    subscriber: Subscriber | None


# Statuses a sign-up may send a notice to (a bounced address is known not to receive mail).
_NOTIFIABLE = ("pending", "active", "unsubscribed")


def request_subscription(
    session: Session, profile: Profile, *, now: datetime, window: timedelta
) -> SignupDecision:
    """Record a sign-up and say which notice (if any) to send. The caller answers the same
    neutral "check your inbox" whatever this returns.

    The first statement claims the confirmation window with one conditional UPDATE: it takes
    the row lock (PostgreSQL) or the database write lock (SQLite) before anything is read, so of
    several simultaneous sign-ups for one address exactly one sends a mail and changes the row;
    the others, and any repeat within the window, change nothing at all."""
    claimed = _claim_notice(session, email_key(profile.email), now=now, window=window)
    if is_suppressed(session, profile.email):
        return SignupDecision(Step.NOTHING, None)
    row = get_row_by_email(session, profile.email)
    if row is None:
        row = create(session, profile, status="pending", origin="web", now=now)
        row.confirmation_sent_at = now
        session.flush()
        return SignupDecision(Step.SEND_CONFIRMATION, to_subscriber(row))
    if not claimed:
        return SignupDecision(Step.NOTHING, to_subscriber(row))
    if row.status == "active":
        return SignupDecision(Step.SEND_ALREADY_SUBSCRIBED, to_subscriber(row))
    # Pending or unsubscribed: unconfirmed settings belong to whoever confirms; the newest
    # request wins, and an unsubscribed address starts over as pending.
    update_profile(session, row, _keep_identity(row.name, profile), now)
    if row.status == "unsubscribed":
        set_status(session, row, "pending", now)
    return SignupDecision(Step.SEND_CONFIRMATION, to_subscriber(row))


def _keep_identity(name: str | None, profile: Profile) -> Profile:
    return profile if profile.name is not None or name is None else replace(profile, name=name)


def _claim_notice(session: Session, key: str, *, now: datetime, window: timedelta) -> bool:
    claimed = session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.email_key == key,
            SubscriberRow.status.in_(_NOTIFIABLE),
            or_(
                SubscriberRow.confirmation_sent_at.is_(None),
                SubscriberRow.confirmation_sent_at <= now - window,
            ),
        )
        .values(confirmation_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def notice_not_sent(session: Session, decision: SignupDecision, *, claimed_at: datetime) -> None:
    """The mail server did not take the notice: reopen the window so the reader can retry at
    once (unless a newer request has claimed it since). A claim only succeeds when no window
    was running, so reopening means clearing."""
    if decision.subscriber is None:
        return
    session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.id == decision.subscriber.id,
            SubscriberRow.confirmation_sent_at == claimed_at,
        )
        .values(confirmation_sent_at=None)
        .execution_options(synchronize_session=False)
    )


class ConfirmOutcome(StrEnum):
    ACTIVATED = "activated"
    ALREADY_ACTIVE = "already-active"
    UNSUBSCRIBED = "unsubscribed"
    REFUSED = "refused"  # bounced or suppressed
    MISSING = "missing"


def find(session: Session, public_id: str) -> Subscriber | None:
    row = get_row_by_public_id(session, public_id)
    return to_subscriber(row) if row is not None else None


def confirm(
    session: Session, public_id: str, *, now: datetime
) -> tuple[ConfirmOutcome, Subscriber | None]:
    """Activate a pending subscriber. An address that unsubscribed after the mail was sent stays
    unsubscribed: an old confirmation link must not silently undo a later unsubscribe.

    The activation is one conditional UPDATE issued first, so a double click (two POSTs at
    once) activates once and only one of them is told ACTIVATED (one welcome mail)."""
    suppressed = select(SuppressionRow.email_key).where(
        SuppressionRow.email_key == SubscriberRow.email_key
    )
    activated = session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.public_id == public_id,
            SubscriberRow.status == "pending",
            ~suppressed.exists(),
        )
        .values(
            status="active",
            updated_at=now,
            confirmed_at=func.coalesce(SubscriberRow.confirmed_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    row = get_row_by_public_id(session, public_id)
    if row is None:
        return ConfirmOutcome.MISSING, None
    if activated.rowcount:  # type: ignore[attr-defined]
        return ConfirmOutcome.ACTIVATED, to_subscriber(row)
    if row.status == "active":
        return ConfirmOutcome.ALREADY_ACTIVE, to_subscriber(row)
    if row.status == "unsubscribed":
        return ConfirmOutcome.UNSUBSCRIBED, to_subscriber(row)
    return ConfirmOutcome.REFUSED, to_subscriber(row)


def unsubscribe(session: Session, public_id: str, *, now: datetime) -> Subscriber | None:
    """Idempotent: a second request changes nothing (the first unsubscribe time is kept), and a
    bounced address stays bounced. None when the subscriber no longer exists."""
    session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.public_id == public_id, SubscriberRow.status.in_(("pending", "active"))
        )
        .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    row = get_row_by_public_id(session, public_id)
    return to_subscriber(row) if row is not None else None


def save_preferences(session: Session, public_id: str, profile: Profile, *, now: datetime) -> bool:
    """Replace the reader's settings; the address, name and upvote floor are not on the form
    and stay as they were. False when the subscriber no longer exists. Touching the row first
    takes its lock, so two tabs saving at once replace the topics one after the other."""
    touched = session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.public_id == public_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not touched.rowcount:  # type: ignore[attr-defined]
        return False
    row = get_row_by_public_id(session, public_id)
    assert row is not None
    kept = replace(profile, email=row.email, name=row.name, min_upvotes=row.min_upvotes)
    update_profile(session, row, kept, now)
    return True

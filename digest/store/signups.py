"""The statements of the double opt-in workflow. Each state change is one conditional UPDATE
issued before anything is read, so concurrent requests for one address serialise on the row (or
on SQLite's write lock) and exactly one of them wins; `digest.app.subscription` decides what
the outcome means for the reader."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.errors import StoreError
from digest.models import Profile, Subscriber
from digest.store.schema import SubscriberRow, SuppressionRow
from digest.store.subscribers import (
    create,
    email_key,
    get_row_by_public_id,
    set_status,
    to_subscriber,
    update_profile,
)

# Statuses a sign-up may send a notice to (a bounced address is known not to receive mail).
NOTIFIABLE = ("pending", "active", "unsubscribed")


class AddressRaced(StoreError):
    """Two sign-ups created the same new address at once; the loser's unit of work is rolled
    back and can simply be run again (it then finds the winner's row)."""


def claim_notice(session: Session, address: str, *, now: datetime, window: timedelta) -> bool:
    """Take the address's confirmation window if none is running; True when this call took it."""
    claimed = session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.email_key == email_key(address),
            SubscriberRow.status.in_(NOTIFIABLE),
            or_(
                SubscriberRow.confirmation_sent_at.is_(None),
                SubscriberRow.confirmation_sent_at <= now - window,
            ),
        )
        .values(confirmation_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def create_pending(session: Session, profile: Profile, *, now: datetime) -> Subscriber:
    """A new pending sign-up whose confirmation window starts now."""
    try:
        row = create(session, profile, status="pending", origin="web", now=now)
        row.confirmation_sent_at = now
        session.flush()
    except IntegrityError:
        raise AddressRaced(f"{profile.email}: created by a simultaneous sign-up") from None
    return to_subscriber(row)


def restart_pending(
    session: Session, subscriber_id: int, profile: Profile, *, now: datetime
) -> Subscriber:
    """Unconfirmed settings belong to whoever confirms: the newest request replaces them (the
    stored name is kept when the request has none), and an unsubscribed address starts over as
    pending."""
    row = session.get(SubscriberRow, subscriber_id)
    assert row is not None
    if profile.name is None and row.name is not None:
        profile = replace(profile, name=row.name)
    update_profile(session, row, profile, now)
    if row.status == "unsubscribed":
        set_status(session, row, "pending", now)
    return to_subscriber(row)


def reopen_notice(session: Session, subscriber_id: int, *, claimed_at: datetime) -> None:
    """Give back a window this request claimed (unless a newer request has claimed it since)."""
    session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.id == subscriber_id,
            SubscriberRow.confirmation_sent_at == claimed_at,
        )
        .values(confirmation_sent_at=None)
        .execution_options(synchronize_session=False)
    )


def activate(session: Session, public_id: str, *, now: datetime) -> bool:
    """Pending and not suppressed → active; True only for the call that changed it."""
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
    return bool(activated.rowcount)  # type: ignore[attr-defined]


def end_subscription(session: Session, public_id: str, *, now: datetime) -> None:
    """Pending or active → unsubscribed; the first unsubscribe time is kept, bounced stays."""
    session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.public_id == public_id, SubscriberRow.status.in_(("pending", "active"))
        )
        .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def replace_settings(session: Session, public_id: str, profile: Profile, *, now: datetime) -> bool:
    """Replace the reader's settings but not the address, name or upvote floor (not on the
    form). Touching the row first takes its lock, so two tabs saving at once apply one after
    the other. False when the subscriber no longer exists."""
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

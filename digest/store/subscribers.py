"""Subscriber repository: the only place that turns subscriber rows into `Subscriber` values."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.orm import Session

from digest.models import Profile, Subscriber, Topic
from digest.store.schema import ReplyWindowRow, SubscriberRow, SuppressionRow, TopicRow

Status = Literal["pending", "active", "unsubscribed", "bounced"]


def email_key(address: str) -> str:
    """Addresses are unique case-insensitively (email-validator keeps the local part's case)."""
    return address.strip().casefold()


def to_subscriber(row: SubscriberRow) -> Subscriber:
    profile = Profile(
        email=row.email,
        name=row.name,
        timezone=row.timezone,
        cadence=row.cadence,
        send_time=row.send_time,
        max_papers=row.max_papers,
        min_upvotes=row.min_upvotes,
        trending=row.trending,
        topics=tuple(
            Topic(name=t.name, query=t.query, like=tuple((t.like_papers or "").splitlines()))
            for t in row.topics
        ),
    )
    return Subscriber(
        id=row.id, public_id=row.public_id, status=cast(Status, row.status), profile=profile
    )


def apply_profile(row: SubscriberRow, profile: Profile) -> None:
    row.email = profile.email
    row.name = profile.name
    row.timezone = profile.timezone
    row.cadence = profile.cadence
    row.send_time = profile.send_time
    row.max_papers = profile.max_papers
    row.min_upvotes = profile.min_upvotes
    row.trending = profile.trending
    row.topics = [
        TopicRow(
            position=i,
            name=topic.name,
            query=topic.query,
            like_papers="\n".join(topic.like) or None,
        )
        for i, topic in enumerate(profile.topics)
    ]


def get_row_by_email(session: Session, address: str) -> SubscriberRow | None:
    return session.scalar(
        select(SubscriberRow).where(SubscriberRow.email_key == email_key(address))
    )


def get_by_email(session: Session, address: str) -> Subscriber | None:
    """The subscriber with this address (compared case-insensitively), as a value."""
    row = get_row_by_email(session, address)
    return to_subscriber(row) if row is not None else None


def get_by_public_id(session: Session, public_id: str) -> Subscriber | None:
    """The subscriber a signed link names, as a value."""
    row = get_row_by_public_id(session, public_id)
    return to_subscriber(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class Membership:
    """A subscriber with the dates its status line reports (`digest why`)."""

    subscriber: Subscriber
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


def membership_by_email(session: Session, address: str) -> Membership | None:
    row = get_row_by_email(session, address)
    if row is None:
        return None
    return Membership(to_subscriber(row), row.confirmed_at, row.unsubscribed_at)


def save_profile(session: Session, subscriber_id: int, profile: Profile, now: datetime) -> None:
    """Replace a subscriber's profile (topics, settings) in place."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        raise LookupError(f"subscriber {subscriber_id} is gone")
    update_profile(session, row, profile, now)


def get_row_by_public_id(session: Session, public_id: str) -> SubscriberRow | None:
    return session.scalar(select(SubscriberRow).where(SubscriberRow.public_id == public_id))


def create(
    session: Session, profile: Profile, *, status: Status, origin: str, now: datetime
) -> SubscriberRow:
    row = create_row(profile, status=status, origin=origin, now=now)
    session.add(row)
    session.flush()
    return row


def create_row(profile: Profile, *, status: Status, origin: str, now: datetime) -> SubscriberRow:
    """A new subscriber row, not yet added to a session (batch imports flush many at once)."""
    row = SubscriberRow(
        public_id=secrets.token_urlsafe(16),
        email_key=email_key(profile.email),
        status=status,
        origin=origin,
        created_at=now,
        updated_at=now,
        confirmed_at=now if status == "active" else None,
    )
    apply_profile(row, profile)
    return row


def update_profile(session: Session, row: SubscriberRow, profile: Profile, now: datetime) -> None:
    apply_profile(row, profile)
    row.updated_at = now
    session.flush()


def set_status(session: Session, row: SubscriberRow, status: Status, now: datetime) -> None:
    row.status = status
    row.updated_at = now
    if status == "active" and row.confirmed_at is None:
        row.confirmed_at = now
    if status == "unsubscribed":
        row.unsubscribed_at = now
    session.flush()


def import_profile(session: Session, profile: Profile, now: datetime) -> tuple[SubscriberRow, bool]:
    """Create or update from an operator's file; imported profiles are active (the operator
    vouches for them), except that an unsubscribed, bounced or suppressed address stays so."""
    row = get_row_by_email(session, profile.email)
    if row is None:
        status: Status = "bounced" if is_suppressed(session, profile.email) else "active"
        return create(session, profile, status=status, origin="import", now=now), True
    update_profile(session, row, profile, now)
    if row.status == "pending":
        set_status(session, row, "active", now)
    return row, False


def list_subscribers(session: Session, *, status: Status | None = None) -> list[Subscriber]:
    query = select(SubscriberRow).order_by(SubscriberRow.id)
    if status is not None:
        query = query.where(SubscriberRow.status == status)
    return [to_subscriber(row) for row in session.scalars(query)]


def suppress(session: Session, address: str, reason: str, now: datetime) -> None:
    key = email_key(address)
    if session.get(SuppressionRow, key) is None:
        session.add(SuppressionRow(email_key=key, reason=reason, created_at=now))
    row = get_row_by_email(session, address)
    if row is not None:
        set_status(session, row, "bounced", now)


def is_suppressed(session: Session, address: str) -> bool:
    return session.get(SuppressionRow, email_key(address)) is not None


def by_ids(session: Session, ids: Sequence[int]) -> list[Subscriber]:
    rows = session.scalars(select(SubscriberRow).where(SubscriberRow.id.in_(ids)))
    return [to_subscriber(row) for row in rows]


def mailable() -> ColumnElement[bool]:
    """The one rule for who may be mailed: active, and not suppressed (a hard bounce or a
    complaint wins over whatever the subscriber row says)."""
    return (SubscriberRow.status == "active") & ~exists().where(
        SuppressionRow.email_key == SubscriberRow.email_key
    )


def mailable_page(session: Session, *, after_id: int, limit: int) -> list[Subscriber]:
    """The next page of mailable subscribers by id (keyset pagination: flat memory)."""
    rows = session.scalars(
        select(SubscriberRow)
        .where(mailable(), SubscriberRow.id > after_id)
        .order_by(SubscriberRow.id)
        .limit(limit)
    )
    return [to_subscriber(row) for row in rows]


def count_mailable(session: Session) -> int:
    return int(session.scalar(select(func.count(SubscriberRow.id)).where(mailable())) or 0)


ScheduleRow = tuple[int, str, str, str, str]  # id, email, cadence, send_time, timezone


def schedule_page(
    session: Session, *, after_id: int, limit: int, only_mailable: bool
) -> list[ScheduleRow]:
    """The next page (by id) of subscribers' schedule columns: the due set is computed from
    these without loading whole profiles, whatever the number of readers."""
    query = select(
        SubscriberRow.id,
        SubscriberRow.email,
        SubscriberRow.cadence,
        SubscriberRow.send_time,
        SubscriberRow.timezone,
    ).where(SubscriberRow.id > after_id)
    if only_mailable:
        query = query.where(mailable())
    rows = session.execute(query.order_by(SubscriberRow.id).limit(limit))
    return [(int(i), e, c, t, z) for i, e, c, t, z in rows]


def remove(session: Session, address: str, now: datetime) -> bool | None:
    """Erase a reader and everything kept about them (topics, ledger rows, ratings, bounce
    score: the foreign keys cascade; the reply window by address). A suppression entry is kept
    only when they bounced or complained, so a data request cannot reopen a bad address; a
    bounced reader without one gets one. Returns whether a suppression remains, None when the
    address is unknown."""
    row = get_row_by_email(session, address)
    if row is None:
        return None
    key = row.email_key
    if row.status == "bounced" and session.get(SuppressionRow, key) is None:
        session.add(
            SuppressionRow(email_key=key, reason="bounced (kept on removal)", created_at=now)
        )
    session.execute(delete(ReplyWindowRow).where(ReplyWindowRow.email_key == key))
    session.execute(delete(SubscriberRow).where(SubscriberRow.id == row.id))
    session.expunge(row)
    session.flush()
    return session.get(SuppressionRow, key) is not None

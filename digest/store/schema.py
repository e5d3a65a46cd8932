"""The database schema (SQLAlchemy 2 ORM). Portable: nothing here is SQLite-only.

Alembic migrations in `migrations/versions` create exactly this; `tests/test_store.py` checks
that the migrated database and these models agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC everywhere (SQLite keeps no zone), returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class PaperRow(Base):
    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    title_key: Mapped[str] = mapped_column(String(512), index=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_count: Mapped[int | None] = mapped_column(Integer)
    organization: Mapped[str | None] = mapped_column(String(200))
    published: Mapped[date | None] = mapped_column(Date)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    submitter: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SubscriberRow(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    # casefolded address; the unit of uniqueness and suppression
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    cadence: Mapped[str] = mapped_column(String(16), default="daily")
    send_time: Mapped[str] = mapped_column(String(5), default="08:00")
    max_papers: Mapped[int] = mapped_column(Integer, default=10)
    min_upvotes: Mapped[int] = mapped_column(Integer, default=0)
    trending: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    origin: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    topics: Mapped[list[TopicRow]] = relationship(
        back_populates="subscriber",
        order_by="TopicRow.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class TopicRow(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    # a topic by example: the ids or titles of papers the reader likes, one a line
    like_papers: Mapped[str | None] = mapped_column(Text, nullable=True)

    subscriber: Mapped[SubscriberRow] = relationship(back_populates="topics")


class DeliveryRow(Base):
    """The ledger: one row per (subscriber, edition). The unique key is the exactly-once lock."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "edition", name="uq_delivery_subscriber_edition"),
        Index("ix_deliveries_status", "status"),
        Index("ix_deliveries_edition_status", "edition", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    edition: Mapped[date] = mapped_column(Date)
    # queued → sent | deferred | failed | bounced | skipped
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    candidates_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryPaperRow(Base):
    """Which papers an edition carried: answers "why did I get this" and enforces "never twice"."""

    __tablename__ = "delivery_papers"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id"), primary_key=True, index=True)
    section: Mapped[str] = mapped_column(String(16), default="personal")  # personal | trending
    position: Mapped[int] = mapped_column(Integer, default=0)


class SuppressionRow(Base):
    """Addresses never to mail again (hard bounce, complaint), whatever the subscriber row says."""

    __tablename__ = "suppressions"

    email_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BounceScoreRow(Base):
    """Mailman's bounce score for one reader's soft bounces: at most one step per bouncing
    day, forgotten after a quiet spell (`[bounces]` settings)."""

    __tablename__ = "bounce_scores"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float, default=0.0)
    last_bounce_on: Mapped[date] = mapped_column(Date)
    last_reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReplyWindowRow(Base):
    """How many replies by mail one address got in its current window (the reply limit)."""

    __tablename__ = "reply_windows"

    email_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)


class IngestRunRow(Base):
    """One source read by one ingest, kept whether it worked or not: the ingest history that
    `digest stats`, the admin pages and the alerts read ("did this morning's pull work?")."""

    __tablename__ = "ingest_runs"
    __table_args__ = (Index("ix_ingest_runs_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    parsed: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class AlertSentRow(Base):
    """An alert mailed to the operator: at most one per condition per day (the key is the lock)."""

    __tablename__ = "alerts_sent"

    condition: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RatingRow(Base):
    """A reader's "more like this" (up) or "less like this" (down) on one paper: at most one
    per reader and paper (rating again replaces it; clearing deletes the row)."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "paper_id", name="uq_rating_subscriber_paper"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)

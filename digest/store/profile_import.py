"""`digest subscribers import` in batches: a few statements and one commit per page of profiles.

One profile at a time costs ~5 statements and a commit each, which made 100,000 profiles take
minutes; a batch looks up its addresses and their suppressions in two queries and writes its
rows in one flush. The rules are `subscribers.import_profile`'s: imported readers are active,
except that an unsubscribed, bounced or suppressed address stays so. A new reader takes the
status the file gives (`status = "unsubscribed"` in an export from another install): moving
an install must not mail again the readers who left.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from digest.models import Profile
from digest.store.schema import SubscriberRow, SuppressionRow, TopicRow
from digest.store.subscribers import Status, apply_profile, email_key


def import_batch(
    session: Session, entries: Sequence[tuple[Profile, Status]], now: datetime
) -> list[bool]:
    """Create or update each profile, with the status its file gives (which only a new reader
    takes); True where it created a subscriber. A later profile with the same address as an
    earlier one in the batch updates it, as a later import would."""
    keys = {email_key(p.email) for p, _ in entries}
    rows = {
        row.email_key: row
        for row in session.scalars(
            select(SubscriberRow)
            .where(SubscriberRow.email_key.in_(keys))
            .options(selectinload(SubscriberRow.topics))
        )
    }
    suppressed = set(
        session.scalars(select(SuppressionRow.email_key).where(SuppressionRow.email_key.in_(keys)))
    )
    created: list[bool] = []
    fresh: dict[str, tuple[Profile, Status]] = {}  # new addresses, inserted together below
    for profile, given in entries:
        key = email_key(profile.email)
        row = rows.get(key)
        if row is not None:
            apply_profile(row, profile)
            row.updated_at = now
            if row.status == "pending" and given == "active":
                row.status = "active"
                row.confirmed_at = row.confirmed_at or now
            created.append(False)
            continue
        created.append(key not in fresh)
        fresh[key] = (profile, "bounced" if key in suppressed else given)
    session.flush()
    if fresh:
        _insert(session, fresh, now)
    return created


def _insert(session: Session, fresh: dict[str, tuple[Profile, Status]], now: datetime) -> None:
    """Two multi-row INSERTs (subscribers with RETURNING their ids, then their topics), not a
    unit of work tracking every new object."""
    values = [
        {
            "public_id": secrets.token_urlsafe(16),
            "email": profile.email,
            "email_key": key,
            "name": profile.name,
            "timezone": profile.timezone,
            "cadence": profile.cadence,
            "send_time": profile.send_time,
            "max_papers": profile.max_papers,
            "min_upvotes": profile.min_upvotes,
            "trending": profile.trending,
            "status": status,
            "origin": "import",
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now if status == "active" else None,
            "unsubscribed_at": now if status == "unsubscribed" else None,
        }
        for key, (profile, status) in fresh.items()
    ]
    statement = insert(SubscriberRow).returning(
        SubscriberRow.id, SubscriberRow.email_key, sort_by_parameter_order=True
    )
    ids = {key: id_ for id_, key in session.execute(statement, values)}
    topics = [
        {
            "subscriber_id": ids[key],
            "position": i,
            "name": topic.name,
            "query": topic.query,
            "like_papers": "\n".join(topic.like) or None,
        }
        for key, (profile, _status) in fresh.items()
        for i, topic in enumerate(profile.topics)
    ]
    if topics:
        session.execute(insert(TopicRow), topics)

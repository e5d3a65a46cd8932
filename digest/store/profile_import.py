"""`digest subscribers import` in batches: a few statements and one commit per page of profiles.

One profile at a time costs ~5 statements and a commit each, which made 100,000 profiles take
minutes; a batch looks up its addresses and their suppressions in two queries and writes its
rows in one flush. The rules are `subscribers.import_profile`'s: imported readers are active,
except that an unsubscribed, bounced or suppressed address stays so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from digest.models import Profile
from digest.store.schema import SubscriberRow, SuppressionRow
from digest.store.subscribers import Status, apply_profile, create_row, email_key


def import_batch(session: Session, profiles: Sequence[Profile], now: datetime) -> list[bool]:
    """Create or update each profile; True where it created a subscriber. A later profile with
    the same address as an earlier one in the batch updates it, as a later import would."""
    keys = {email_key(p.email) for p in profiles}
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
    for profile in profiles:
        key = email_key(profile.email)
        row = rows.get(key)
        if row is None:
            status: Status = "bounced" if key in suppressed else "active"
            row = create_row(profile, status=status, origin="import", now=now)
            session.add(row)
            rows[key] = row
            created.append(True)
            continue
        apply_profile(row, profile)
        row.updated_at = now
        if row.status == "pending":
            row.status = "active"
            row.confirmed_at = row.confirmed_at or now
        created.append(False)
    session.flush()
    return created

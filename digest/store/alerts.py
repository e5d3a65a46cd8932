"""Which alerts the operator was already mailed today: the (condition, day) key is the lock, so
two processes noticing the same failure at once mail it once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.store.schema import AlertSentRow

CONDITION_LIMIT = 200


def claim(session: Session, condition: str, day: date, message: str, now: datetime) -> bool:
    """True when nobody mailed `condition` on `day` yet (and now this caller does)."""
    key = condition[:CONDITION_LIMIT]
    if session.get(AlertSentRow, (key, day)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(AlertSentRow(condition=key, day=day, message=message, created_at=now))
    except IntegrityError:
        return False
    return True


def release(session: Session, condition: str, day: date) -> None:
    """The mail did not go out: let the next occurrence today try again."""
    session.execute(
        delete(AlertSentRow).where(
            AlertSentRow.condition == condition[:CONDITION_LIMIT], AlertSentRow.day == day
        )
    )

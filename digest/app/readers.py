"""What an operator does to the list by hand: unsubscribe or erase a reader, export everyone,
read and lift suppressions, back the database up.

Readers are named by address; an unknown address is a user error naming it. Long listings are
generators over keyset pages, each page its own short transaction, so a million readers stream
in flat memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest.app.subscription import unsubscribe
from digest.errors import ConfigError
from digest.models import Subscriber
from digest.store import Store
from digest.store import subscribers as readers
from digest.store import suppressions as list_
from digest.store.backup import backup_sqlite
from digest.store.exports import Exported, export_page
from digest.store.suppressions import Lifted, Suppression

PAGE_SIZE = 500


def _unknown(email: str) -> ConfigError:
    return ConfigError(f"no subscriber with the address {email!r}")


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    subscriber: Subscriber
    was: str  # the status before; equal to the new one when nothing changed


def unsubscribe_reader(store: Store, email: str, *, now: datetime) -> Unsubscribed:
    """As the reader's own link does: idempotent, and a bounced address stays bounced."""
    with store.session() as session:
        row = readers.get_row_by_email(session, email)
        if row is None:
            raise _unknown(email)
        was = row.status
        unsubscribe(session, row.public_id, now=now)
        session.refresh(row)  # the update above bypassed the loaded row
        return Unsubscribed(readers.to_subscriber(row), was)


def remove_reader(store: Store, email: str, *, now: datetime) -> bool:
    """Erase the reader and their data; True when a suppression entry stays (they bounced or
    complained, so the address is never mailed again)."""
    with store.session() as session:
        kept = readers.remove(session, email, now)
    if kept is None:
        raise _unknown(email)
    return kept


def export_readers(store: Store, *, page_size: int = PAGE_SIZE) -> Iterator[Exported]:
    after = 0
    while True:
        with store.session() as session:
            page = export_page(session, after_id=after, limit=page_size)
        if not page:
            return
        yield from page
        after = page[-1].subscriber.id


def suppressions(store: Store, *, page_size: int = PAGE_SIZE) -> Iterator[Suppression]:
    after = ""
    while True:
        with store.session() as session:
            page = list_.suppressions_page(session, after=after, limit=page_size)
        if not page:
            return
        yield from page
        after = page[-1].email


def lift_suppression(store: Store, email: str, *, now: datetime) -> Lifted:
    with store.session() as session:
        lifted = list_.lift(session, email, now)
    if lifted is None:
        raise ConfigError(f"{email!r} is not on the suppression list")
    return lifted


def backup(database_url: str, target: Path) -> int:
    """A consistent copy of the SQLite database while it is in use; its size in bytes.
    PostgreSQL is a user error saying to use pg_dump."""
    return backup_sqlite(database_url, target)

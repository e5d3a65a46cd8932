"""A list with some history for the operator's pages: readers in every state, editions with
their ledger rows (and the mail server's answers), a suppression."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from digest.store.schema import DeliveryRow, SubscriberRow, SuppressionRow
from tests.websupport import Site

ADMIN_PASSWORD = "correct-horse-battery-staple"
AUTH = ("admin", ADMIN_PASSWORD)
DAY = date(2026, 3, 2)


def admin_client(site: Site, *, auth: tuple[str, str] | None = AUTH) -> httpx.Client:
    return site.client(auth=auth) if auth else site.client()


def delivery(site: Site, email: str, edition: date, status: str, error: str | None = None) -> None:
    with site.store.session() as session:
        reader = session.query(SubscriberRow).filter_by(email_key=email.casefold()).one()
        now = site.clock()
        session.add(
            DeliveryRow(
                subscriber_id=reader.id,
                edition=edition,
                status=status,
                attempts=1,
                message_id=f"<{reader.public_id}.{edition}@example.org>",
                last_error=error,
                created_at=now,
                updated_at=now,
                sent_at=now if status == "sent" else None,
            )
        )


def suppress(site: Site, email: str, reason: str) -> None:
    with site.store.session() as session:
        session.add(
            SuppressionRow(email_key=email.casefold(), reason=reason, created_at=site.clock())
        )
        reader = session.query(SubscriberRow).filter_by(email_key=email.casefold()).one_or_none()
        if reader is not None:
            reader.status = "bounced"


def populate(site: Site) -> dict[str, str]:
    """Readers by role → public id."""
    ids = {
        "ada": site.add("ada@example.org"),
        "bob": site.add("bob@example.org"),
        "eve": site.add("eve@example.org", status="pending"),
        "zoe": site.add("zoe@example.org", status="unsubscribed"),
        "bounced": site.add("gone@example.org"),
    }
    for offset in range(3):
        day = DAY - timedelta(days=offset)
        delivery(site, "ada@example.org", day, "sent")
        delivery(site, "bob@example.org", day, "deferred", "421 4.7.0 try again later")
    delivery(site, "gone@example.org", DAY, "bounced", "550 5.1.1 no such user")
    suppress(site, "gone@example.org", "550 5.1.1 no such user")
    return ids

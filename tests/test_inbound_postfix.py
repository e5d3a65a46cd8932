"""Real bounces from a real Postfix: a digest sent through it with VERP, refused downstream,
comes back as Postfix's own report, which `digest inbound` reads.

550 5.1.1 for one reader suppresses exactly that reader; 452 4.2.2 for another (reported by
Postfix as Action: failed, Status: 4.2.2 once its queue lifetime is over) counts one soft
bounce and keeps them; the third reader, delivered, is untouched.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from digest.store import Store
from digest.store.schema import BounceScoreRow, DeliveryRow, SubscriberRow, SuppressionRow
from tests.delivery_support import add_readers, ingest, paper, send
from tests.inbound_support import BOUNCE_DOMAIN, CODEC, spawn_inbound, write_config
from tests.postfix_support import private_postfix
from tests.smtpd import RecordingHandler, SmtpServer


def downstream(address: str) -> str | None:
    if address.startswith("reader0@"):
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    if address.startswith("reader1@"):
        return "452 4.2.2 Mailbox full"
    return None


def test_postfix_bounces_suppress_the_hard_bounce_and_score_the_soft_one(
    tmp_path: Path,
    db_url: str,
    store: Store,
    make_settings,
    smtp_server: SmtpServer,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    ids = add_readers(store, 3)
    running = spawn_inbound(write_config(tmp_path / "config.toml", db_url, smtp_server.port))
    try:
        with (
            SmtpServer(RecordingHandler(rcpt_fault=downstream)) as mailboxes,
            private_postfix(
                relay_port=mailboxes.port, bounce_domain=BOUNCE_DOMAIN, inbound_port=running.port
            ) as postfix_port,
        ):
            settings = make_settings(
                smtp={"port": postfix_port, "timeout": 10, "concurrency": 1},
                bounces={"domain": BOUNCE_DOMAIN},
            )
            summary, _ = send(store, settings)
            assert summary.sent == 3  # Postfix took all three; the refusals come later
            lines = running.handled(2, timeout=60)
            [delivered] = mailboxes.messages
    finally:
        assert running.stop() == 0, running.errors
    assert delivered.rcpt_tos == ["reader2@example.org"]
    with store.session() as session:
        deliveries = {r.subscriber_id: r for r in session.scalars(select(DeliveryRow))}
        assert CODEC.delivery(delivered.mail_from) == deliveries[ids[2]].id
        status = dict(session.execute(select(SubscriberRow.id, SubscriberRow.status)).all())
        suppressed = set(session.scalars(select(SuppressionRow.email_key)))
        held = dict(
            session.execute(select(BounceScoreRow.subscriber_id, BounceScoreRow.score)).all()
        )
        scores = [held.get(i, 0.0) for i in ids]
    assert sorted(line.split(":")[0] for line in lines) == [
        "bounce for reader0@example.org",
        "bounce for reader1@example.org",
    ]
    assert status == {ids[0]: "bounced", ids[1]: "active", ids[2]: "active"}
    assert suppressed == {"reader0@example.org"}
    assert deliveries[ids[0]].status == "bounced" and "5.1.1" in (
        deliveries[ids[0]].last_error or ""
    )
    assert deliveries[ids[1]].status == "sent" and "4.2.2" in (deliveries[ids[1]].last_error or "")
    assert deliveries[ids[2]].status == "sent" and deliveries[ids[2]].last_error is None
    assert scores == [0.0, 1.0, 0.0]

"""Every real bounce in flufl.bounce's corpus that its detectors recognise bounces the right
delivery: read alone, and through `digest inbound` over SMTP.

Each message is sent to the VERP address of a delivery made for the reader it reports, so the
address it comes back to names exactly one ledger row; that row, and no other, must record it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flufl.bounce import all_failures
from sqlalchemy import select

from digest.inbound.decide import Bounce, decide
from digest.inbound.reading import parse
from digest.models import Profile
from digest.store import Store
from digest.store.schema import DeliveryRow, SubscriberRow
from digest.store.subscribers import create
from tests.bounce_corpus import corpus
from tests.delivery_support import INGESTED
from tests.inbound_support import CODEC, delivery, spawn_inbound, write_config
from tests.smtpd import SmtpServer
from tests.test_inbound_reading import ADDRESSES


@pytest.fixture(scope="module")
def detected(request: pytest.FixtureRequest) -> dict[str, tuple[bytes, set[str]]]:
    """file name → (its bytes, the addresses flufl.bounce detects in it), for detected ones."""
    found = {}
    for path in corpus(request):
        data = path.read_bytes()
        temporary, permanent = all_failures(parse(data))
        addresses = {a.decode("ascii").casefold() for a in temporary | permanent}
        if addresses:
            found[path.name] = (data, addresses)
    assert len(found) > 100
    return found


def test_each_detected_bounce_names_its_delivery_and_the_reported_readers(
    detected: dict[str, tuple[bytes, set[str]]],
) -> None:
    for n, (name, (data, addresses)) in enumerate(sorted(detected.items()), 1):
        decision = decide(data, mail_from="", recipient=CODEC.address(n), addresses=ADDRESSES)
        assert isinstance(decision, Bounce), name
        assert decision.delivery_id == n
        reported = {f.recipient.casefold() for f in decision.failures if f.recipient}
        assert addresses <= reported or (reported <= addresses and reported), name


def test_each_detected_bounce_through_digest_inbound_marks_exactly_its_delivery(
    detected: dict[str, tuple[bytes, set[str]]],
    tmp_path: Path,
    db_url: str,
    store: Store,
    smtp_server: SmtpServer,
) -> None:
    readers: dict[str, int] = {}
    targets: dict[str, int] = {}
    with store.session() as session:
        for address in sorted({min(a) for _, a in detected.values()}):
            profile = Profile(email=address)
            readers[address] = create(
                session, profile, status="active", origin="import", now=INGESTED
            ).id
    for n, (name, (_, addresses)) in enumerate(sorted(detected.items())):
        targets[name] = delivery(store, readers[min(addresses)], date(2026, 1, 1) + timedelta(n))
    running = spawn_inbound(write_config(tmp_path / "config.toml", db_url, smtp_server.port))
    try:
        for name, (data, _) in sorted(detected.items()):
            running.send(data, to=CODEC.address(targets[name]), mail_from="")
        lines = running.handled(len(detected), timeout=120)
    finally:
        assert running.stop() == 0, running.errors
    assert all(line.startswith("bounce for ") for line in lines), lines
    with store.session() as session:
        rows = {r.id: r for r in session.scalars(select(DeliveryRow))}
        status = dict(session.execute(select(SubscriberRow.email, SubscriberRow.status)).all())
    for name, (data, addresses) in detected.items():
        row = rows[targets[name]]
        expected = decide(data, mail_from="", recipient=CODEC.address(1), addresses=ADDRESSES)
        assert isinstance(expected, Bounce)
        hard = expected.worst.severity == "hard"
        assert row.status == ("bounced" if hard else "sent"), name
        assert row.last_error is not None and row.last_error.startswith(
            "hard bounce" if hard else "soft bounce"
        ), name
        if hard:
            assert status[min(addresses)] == "bounced", name
    assert smtp_server.messages == []  # a bounce is never answered

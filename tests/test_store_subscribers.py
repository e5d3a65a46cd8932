"""Subscriber repository: case-insensitive identity, import semantics, suppression."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.models import Profile, Topic
from digest.store import Store
from digest.store import subscribers as repo

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def profile(email: str = "Ada@Example.org", **changes: object) -> Profile:
    values: dict[str, object] = {
        "email": email,
        "name": "Ada",
        "timezone": "Europe/Paris",
        "topics": (Topic("Decoding", "speculative decoding"),),
    }
    values.update(changes)
    return Profile(**values)  # type: ignore[arg-type]


def test_import_creates_an_active_subscriber_then_updates_it_in_place(store: Store) -> None:
    with store.session() as session:
        _, created = repo.import_profile(session, profile(), NOW)
        assert created
    with store.session() as session:
        _, created = repo.import_profile(
            session, profile("ada@example.org", topics=(Topic("KV", "kv cache"),)), NOW
        )
        assert not created
    with store.session() as session:
        (only,) = repo.list_subscribers(session)
    assert only.status == "active"
    assert only.profile.topics == (Topic("KV", "kv cache"),)
    assert len(only.public_id) >= 20 and "@" not in only.public_id


def test_a_reimport_never_reactivates_an_unsubscribed_reader(store: Store) -> None:
    with store.session() as session:
        row, _ = repo.import_profile(session, profile(), NOW)
        repo.set_status(session, row, "unsubscribed", NOW)
    with store.session() as session:
        repo.import_profile(session, profile(), NOW)
        assert repo.list_subscribers(session)[0].status == "unsubscribed"


def test_suppressed_addresses_come_back_bounced(store: Store) -> None:
    with store.session() as session:
        repo.import_profile(session, profile(), NOW)
        repo.suppress(session, "ADA@example.org", "550 no such user", NOW)
        assert repo.is_suppressed(session, "ada@EXAMPLE.org")
        assert repo.list_subscribers(session)[0].status == "bounced"
        assert repo.list_subscribers(session, status="active") == []


def test_a_failed_unit_of_work_leaves_nothing_behind(store: Store) -> None:
    try:
        with store.session() as session:
            repo.import_profile(session, profile(), NOW)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.session() as session:
        assert repo.list_subscribers(session) == []

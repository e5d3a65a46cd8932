"""A stored value that no longer validates fails only its reader, loudly, everywhere the same way.

Profiles are validated when they are stored, but a database outlives its code: a value written by
an older version, or by hand, can stop validating. Then that reader gets a warning naming them
and the field, and a `failed` ledger row with the reason; every other reader is still served, by
`digest send`, by the scheduler's tick and by `digest preview`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from digest.schedule.service import Scheduler
from digest.settings import Settings
from digest.store import Store
from digest.store.schema import DeliveryRow, SubscriberRow, TopicRow
from tests.conftest import Cli
from tests.delivery_support import INGESTED, NOW, add_readers, copies, ingest, paper
from tests.schedule_support import SimulatedClock
from tests.smtpd import SmtpServer

BROKEN = [
    ("cadence", {"cadence": "fortnightly"}, "cadence: expected 'daily' or 'weekly:"),
    ("timezone", {"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ("send_time", {"send_time": "8am"}, "send_time: expected HH:MM"),
]


def readers_with_one_broken(
    store: Store, values: dict[str, str], *, ingested: datetime | None = None
) -> None:
    """Three readers; the second one's stored profile no longer validates. Papers are first
    seen at `ingested` (default: now, for commands that read the real clock)."""
    ingest(store, [paper(n) for n in range(3)], ingested or datetime.now(UTC))
    ids = add_readers(store, 3)
    with store.session() as session:
        session.execute(update(SubscriberRow).where(SubscriberRow.id == ids[1]).values(**values))


def failed_rows(store: Store) -> dict[str, str | None]:
    with store.session() as session:
        rows = session.execute(
            select(SubscriberRow.email, DeliveryRow.last_error)
            .join(DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id)
            .where(DeliveryRow.status == "failed")
        )
        return {email: error for email, error in rows}  # noqa: C416 (rows are Row objects)


def settings_for(make_settings: Callable[..., Settings], port: int) -> Settings:
    return make_settings(smtp={"port": port, "retry_backoff": 0}, digest={"send_empty": True})


@pytest.mark.parametrize(("field", "values", "reason"), BROKEN)
def test_send_serves_everyone_else_and_names_the_reader_and_field(
    digest: Cli,
    store: Store,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    values: dict[str, str],
    reason: str,
) -> None:
    readers_with_one_broken(store, values)
    monkeypatch.setenv("DIGEST_SMTP__PORT", str(smtp_server.port))
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "x" * 40)
    code, _, err = digest("send", "--json")
    assert code == 0, err
    assert set(copies(smtp_server.messages)) == {"reader0@example.org", "reader2@example.org"}
    [line] = [line for line in err.splitlines() if "reader1@example.org" in line]
    assert reason in line and field in line and "Traceback" not in err
    failed = failed_rows(store)
    assert list(failed) == ["reader1@example.org"]
    assert reason in (failed["reader1@example.org"] or "")
    # A second run warns no more: the edition is settled as failed, once.
    code, _, err = digest("send", "--json")
    assert code == 0 and "reader1@example.org" not in err


def test_a_dry_run_reports_the_broken_reader_and_writes_nothing(
    digest: Cli, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers_with_one_broken(store, {"cadence": "fortnightly"})
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "x" * 40)
    code, out, err = digest("send", "--dry-run")
    assert code == 0, err
    assert "failed reader1@example.org" in out and "cadence" in out
    assert failed_rows(store) == {}


def test_a_stored_query_that_no_longer_parses_fails_only_its_reader(
    store: Store, make_settings: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    ids = add_readers(store, 2)
    with store.session() as session:
        session.execute(
            update(TopicRow).where(TopicRow.subscriber_id == ids[0]).values(query='"unclosed')
        )
    settings = settings_for(make_settings, smtp_server.port)
    from tests.delivery_support import send

    summary, events = send(store, settings)
    assert summary.sent == 1 and summary.failed == 1
    [failure] = [e for e in events if e.kind == "failed"]
    assert failure.email == "reader0@example.org"
    assert failure.error is not None and "query" in failure.error and "unclosed" in failure.error


@pytest.mark.parametrize(("field", "values", "reason"), BROKEN)
def test_the_scheduler_tick_serves_everyone_else(
    store: Store,
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
    field: str,
    values: dict[str, str],
    reason: str,
) -> None:
    readers_with_one_broken(store, values, ingested=INGESTED)
    settings = settings_for(make_settings, smtp_server.port)
    # add_readers' profiles send at 08:00 UTC; tick a minute later.
    at = datetime(NOW.year, NOW.month, NOW.day, 8, 1, tzinfo=UTC)
    assert at > INGESTED
    scheduler = Scheduler(settings, store, clock=SimulatedClock(at))
    with caplog.at_level(logging.WARNING):
        report = asyncio.run(scheduler.tick())
    assert report.counts["sent"] == 2 and report.counts["failed"] == 1
    assert set(copies(smtp_server.messages)) == {"reader0@example.org", "reader2@example.org"}
    assert any("reader1@example.org" in r.message and field in r.message for r in caplog.records)
    assert reason in (failed_rows(store)["reader1@example.org"] or "")


def test_due_lists_everyone_else_and_warns_about_the_broken_reader(
    digest: Cli, store: Store
) -> None:
    readers_with_one_broken(store, {"cadence": "fortnightly"})
    at = datetime(NOW.year, NOW.month, NOW.day, 8, 1, tzinfo=UTC)
    code, out, err = digest("due", "--at", at.isoformat(), "--json")
    assert code == 0, err
    assert "reader1@example.org" not in out and "reader0@example.org" in out
    assert "warning: subscriber reader1@example.org: cadence" in err


def test_preview_writes_everyone_else(
    digest: Cli, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers_with_one_broken(store, {"timezone": "Mars/Olympus"})
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "x" * 40)
    code, _, err = digest("preview", "--out", str(tmp_path / "out"))
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "out").glob("*.eml"))
    assert written == ["reader0-example-org.eml", "reader2-example-org.eml"]
    assert "reader1@example.org" in err and "timezone" in err

"""Managing the list by hand: unsubscribe, erase (a data request), export, suppressions, and a
backup of a database in use."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digest.cli import run
from digest.store import Store
from digest.store.schema import DeliveryRow, SubscriberRow, SuppressionRow, TopicRow
from digest.store.subscribers import suppress
from tests.conftest import TEST_SECRET, sqlite_only
from tests.delivery_support import add_readers, ingest, paper
from tests.smtpd import SmtpServer


class Operator:
    def __init__(self, config: Path, capsys: Any) -> None:
        self.config = config
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = run(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert (code, err) == (0, ""), err
        return out


@pytest.fixture
def operator(
    store: Store, db_url: str, tmp_path: Path, smtp_server: SmtpServer, capsys: Any
) -> Operator:
    """Three readers who each had one digest."""
    ingest(store, [paper(n) for n in range(3)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 3)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[smtp]\nport = {smtp_server.port}\n'
        f'[site]\nbase_url = "https://digest.example.org"\nsecret_key = ["{TEST_SECRET}"]\n',
        encoding="utf-8",
    )
    ops = Operator(config, capsys)
    assert json.loads(ops.ok("send", "--json"))["sent"] == 3
    return ops


def _count(store: Store, *where: Any, table: Any = SubscriberRow) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def test_unsubscribe_is_idempotent_and_names_the_change(operator: Operator) -> None:
    out = operator.ok("subscribers", "unsubscribe", "Reader0@example.org")
    assert out == "reader0@example.org: unsubscribed (was active)\n"
    again = operator.ok("subscribers", "unsubscribe", "reader0@example.org")
    assert again == "reader0@example.org: already unsubscribed; nothing changed\n"
    listed = json.loads(operator.ok("subscribers", "list", "--json"))
    assert [s["status"] for s in listed] == ["unsubscribed", "active", "active"]


def test_remove_erases_the_reader_and_their_data(operator: Operator, store: Store) -> None:
    assert operator.ok("subscribers", "remove", "reader1@example.org") == (
        "reader1@example.org: removed with all their data\n"
    )
    assert _count(store, SubscriberRow.email_key == "reader1@example.org") == 0
    assert _count(store, table=TopicRow) == 2  # one topic each for the two left
    assert _count(store, table=DeliveryRow) == 2
    assert _count(store, table=SuppressionRow) == 0
    code, out, err = operator("subscribers", "remove", "reader1@example.org")
    assert (code, out) == (2, "")
    assert err == "error: no subscriber with the address 'reader1@example.org'\n"


def test_remove_keeps_a_suppression_after_a_bounce_or_complaint(
    operator: Operator, store: Store
) -> None:
    with store.session() as session:
        suppress(session, "reader2@example.org", "550 5.1.1 no such user", datetime.now(UTC))
    out = operator.ok("subscribers", "remove", "reader2@example.org")
    assert out.endswith("; the address stays suppressed (it bounced or complained)\n")
    assert _count(store, SubscriberRow.email_key == "reader2@example.org") == 0
    listed = json.loads(operator.ok("suppressions", "list", "--json"))
    assert [(s["email"], s["reason"]) for s in listed] == [
        ("reader2@example.org", "550 5.1.1 no such user")
    ]
    assert datetime.fromisoformat(listed[0]["since"]).tzinfo is not None


def test_lifting_a_suppression_makes_a_bounced_reader_mailable_again(
    operator: Operator, store: Store
) -> None:
    with store.session() as session:
        suppress(session, "reader2@example.org", "550 5.1.1 no such user", datetime.now(UTC))
    assert "reader2@example.org" in operator.ok("suppressions", "list")
    out = operator.ok("suppressions", "lift", "reader2@example.org")
    assert out == (
        "reader2@example.org: suppression lifted (550 5.1.1 no such user); "
        "the reader is active again\n"
    )
    assert json.loads(operator.ok("suppressions", "list", "--json")) == []
    assert operator.ok("suppressions", "list") == "No suppressed addresses.\n"
    listed = {
        s["email"]: s["status"] for s in json.loads(operator.ok("subscribers", "list", "--json"))
    }
    assert listed["reader2@example.org"] == "active"
    code, _, err = operator("suppressions", "lift", "reader2@example.org")
    assert code == 2 and err == "error: 'reader2@example.org' is not on the suppression list\n"


def test_export_json_has_every_field_and_the_ledger(operator: Operator) -> None:
    exported = json.loads(operator.ok("subscribers", "export", "--json"))
    assert [e["email"] for e in exported] == [f"reader{n}@example.org" for n in range(3)]
    first = exported[0]
    assert {
        "email", "status", "timezone", "cadence", "send_time", "topics", "name", "max_papers",
        "min_upvotes", "trending", "origin", "created_at", "confirmed_at", "unsubscribed_at",
        "deliveries",
    } <= set(first)  # fmt: skip
    assert first["name"] == "Reader 0"
    assert [d["status"] for d in first["deliveries"]] == ["sent"]


def test_export_in_toml_is_read_back_by_import(
    operator: Operator, tmp_path: Path, db_url: str
) -> None:
    exported = operator.ok("subscribers", "export")
    moved = tmp_path / "moved.toml"
    moved.write_text(exported, encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "other.db"}"\n', encoding="utf-8")
    assert run(["--config", str(other), "subscribers", "import", str(moved)]) == 0
    assert run(["--config", str(other), "subscribers", "list", "--json"]) == 0
    out = operator.capsys.readouterr().out
    moved_list = json.loads(out[out.index("[") :])
    assert moved_list == json.loads(operator.ok("subscribers", "list", "--json"))


def test_readers_who_left_stay_gone_when_an_export_moves_to_another_install(
    operator: Operator, tmp_path: Path
) -> None:
    operator.ok("subscribers", "unsubscribe", "reader1@example.org")
    moved = tmp_path / "moved.toml"
    moved.write_text(operator.ok("subscribers", "export"), encoding="utf-8")
    assert 'status = "unsubscribed"' in moved.read_text(encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "other.db"}"\n', encoding="utf-8")
    assert run(["--config", str(other), "subscribers", "import", str(moved)]) == 0
    assert run(["--config", str(other), "subscribers", "list", "--json"]) == 0
    out = operator.capsys.readouterr().out
    statuses = {r["email"]: r["status"] for r in json.loads(out[out.index("[") :])}
    assert statuses == {
        "reader0@example.org": "active",
        "reader1@example.org": "unsubscribed",
        "reader2@example.org": "active",
    }


def test_a_status_other_than_the_known_ones_is_refused_naming_its_line(
    operator: Operator, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('email = "x@example.org"\nstatus = "gone"\n', encoding="utf-8")
    code, _out, err = operator("subscribers", "import", str(bad))
    assert code == 2
    assert err.strip().splitlines() == [
        f'error: {bad}:2: status: expected one of "active", "pending", "unsubscribed", '
        "\"bounced\", got 'gone'"
    ]


def test_export_streams_in_pages(operator: Operator, store: Store, monkeypatch: Any) -> None:
    from digest.app import readers

    add_readers(store, 4, start=3)
    monkeypatch.setattr(readers, "PAGE_SIZE", 2)
    pages: list[int] = []
    original = readers.export_page

    def counting(session: Any, *, after_id: int, limit: int) -> Any:
        found = original(session, after_id=after_id, limit=limit)
        pages.append(len(found))
        return found

    monkeypatch.setattr(readers, "export_page", counting)
    exported = list(readers.export_readers(store, page_size=2))
    assert len(exported) == 7 and pages == [2, 2, 2, 1, 0]


def test_backup_of_a_database_in_use_holds_the_ledger(
    operator: Operator, tmp_path: Path, db_url: str, store: Store
) -> None:
    sqlite_only("digest backup copies a SQLite file (PostgreSQL: pg_dump)")
    # Another process holds a transaction open in WAL mode, so the ledger still sits in the
    # -wal file, where a plain copy of the database file would miss it.
    busy = threading.Event()
    done = threading.Event()

    def writer() -> None:
        with store.session() as session:
            session.execute(select(func.count()).select_from(DeliveryRow))
            busy.set()
            done.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    busy.wait(10)
    target = tmp_path / "backup.db"
    try:
        out = operator.ok("backup", str(target))
    finally:
        done.set()
        thread.join()
    assert out.startswith(f"backed up {db_url} to {target} (")
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("SELECT count(*) FROM deliveries WHERE status='sent'").fetchone() == (
            3,
        )
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        copy.close()
    code, _, err = operator("backup", str(target))
    assert code == 2 and err == f"error: {target}: already exists; give a new file name\n"
    assert not list(tmp_path.glob(".*.partial"))


def test_backup_on_postgresql_says_to_use_pg_dump(tmp_path: Path, capsys: Any) -> None:
    config = tmp_path / "pg.toml"
    config.write_text(
        '[database]\nurl = "postgresql+psycopg://postgres@127.0.0.1:5432/test"\n', encoding="utf-8"
    )
    assert run(["--config", str(config), "backup", str(tmp_path / "x.db")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "pg_dump" in captured.err


def test_the_human_list_has_names_dates_and_counts(operator: Operator) -> None:
    operator.ok("subscribers", "unsubscribe", "reader2@example.org")
    out = operator.ok("subscribers", "list").splitlines()
    today = datetime.now(UTC).date().isoformat()
    assert out[0].startswith("reader0@example.org ")
    assert out[1].startswith("    Reader 0; joined ") and out[1].endswith(f"; last sent {today}")
    assert out[-1] == "3 subscribers: pending 0, active 2, unsubscribed 1, bounced 0"

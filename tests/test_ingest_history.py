"""The ingest history: every ingest, from the command line or the scheduler, leaves one row per
source with its counts, and a failure leaves its error instead of nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.app.ingest import ingest
from digest.errors import SourceError
from digest.schedule.service import Scheduler
from digest.settings import Settings
from digest.store import Store, open_store
from digest.store.ingest_runs import history, latest_per_source, record
from tests.conftest import Cli
from tests.ingest_support import API_PAGE, NOW, TEXT_PAGE, stored
from tests.schedule_support import SAMPLE, SimulatedClock


def _pages(tmp_path: Path) -> tuple[Path, Path]:
    text = tmp_path / "page.txt"
    text.write_text(TEXT_PAGE, encoding="utf-8")
    api = tmp_path / "api.json"
    api.write_text(json.dumps(API_PAGE), encoding="utf-8")
    return text, api


def test_each_source_of_a_run_gets_its_own_counts(store: Store, tmp_path: Path) -> None:
    text, api = _pages(tmp_path)
    counts = ingest(store, [str(text), str(api)], now=NOW)
    assert (counts.parsed, counts.new, counts.updated) == (4, 2, 2)
    with store.session() as session:
        runs = history(session)
    by_source = {run.source: run for run in runs}
    assert set(by_source) == {str(text), str(api)}
    assert (by_source[str(text)].parsed, by_source[str(text)].new) == (2, 2)
    # The API page names the same two papers: nothing new, nothing wrong.
    assert (by_source[str(api)].parsed, by_source[str(api)].new) == (2, 0)
    assert all(run.ok for run in runs)
    assert all(NOW <= run.started_at <= run.finished_at for run in runs)


def test_a_failing_source_is_recorded_with_its_error_and_the_others_as_not_stored(
    store: Store, tmp_path: Path, db_url: str
) -> None:
    text, _ = _pages(tmp_path)
    missing = tmp_path / "missing.txt"
    with pytest.raises(SourceError) as caught:
        ingest(store, [str(text), str(missing)], now=NOW)
    message = str(caught.value)
    assert message == f"{missing}: no such file"
    assert stored(db_url) == 0
    with store.session() as session:
        runs = {run.source: run for run in latest_per_source(session)}
    assert runs[str(missing)].error == message
    assert runs[str(missing)].parsed == 0
    assert runs[str(text)].parsed == 2 and runs[str(text)].new == 0
    assert runs[str(text)].error == f"not stored: {message}"


def test_latest_per_source_and_history_newest_first(store: Store) -> None:
    with store.session() as session:
        for day in range(3):
            at = NOW + timedelta(days=day)
            record(session, source="a", started_at=at, finished_at=at, parsed=day, new=0)
        record(session, source="b", started_at=NOW, finished_at=NOW, parsed=0, new=0, error="x")
    with store.session() as session:
        latest = latest_per_source(session)
        assert [(run.source, run.parsed, run.error) for run in latest] == [
            ("a", 2, None),
            ("b", 0, "x"),
        ]
        assert [run.parsed for run in history(session, source="a")] == [2, 1, 0]
        assert [run.source for run in history(session, limit=2)] == ["b", "a"]


def test_the_command_line_records_its_ingests(digest: Cli, tmp_path: Path, db_url: str) -> None:
    text, _ = _pages(tmp_path)
    assert digest("ingest", str(text), "--json")[0] == 0
    code, _, err = digest("ingest", str(tmp_path / "nope.txt"))
    assert code == 2 and "nope.txt: no such file" in err
    opened = open_store(db_url)
    try:
        with opened.session() as session:
            runs = history(session)
    finally:
        opened.dispose()
    assert [(Path(run.source).name, run.new, run.error is None) for run in runs] == [
        ("nope.txt", 0, False),
        ("page.txt", 2, True),
    ]


def test_the_scheduler_records_its_ingests_failures_included(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    clock = SimulatedClock(datetime(2026, 3, 27, 6, tzinfo=UTC))
    good = make_settings(ingest={"sources": [str(SAMPLE)]})
    asyncio.run(Scheduler(good, store, clock=clock).ingest())
    broken = make_settings(ingest={"sources": [str(SAMPLE.with_name("missing.txt"))]})
    asyncio.run(Scheduler(broken, store, clock=clock).ingest())
    with store.session() as session:
        runs = history(session)
    assert len(runs) == 2
    failed, worked = runs
    assert worked.source == str(SAMPLE) and worked.parsed > 0 and worked.ok
    assert failed.source.endswith("missing.txt") and "no such file" in (failed.error or "")

"""`digest db upgrade`: the schema reaches the newest revision once, however many processes start.

Every other command upgrades an out-of-date schema under the same lock when it opens the store,
so starting several services at once on an empty PostgreSQL database is safe too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from digest.store.db import MIGRATIONS, create_engine_for
from digest.store.schema_version import head_revision
from tests.conftest import ROOT, fresh_postgres_database
from tests.schedule_support import base_env, digest

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    with fresh_postgres_database(POSTGRES_SERVER) as url:
        yield url


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def stamped(url: str) -> str | None:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            from digest.store.schema_version import current_revision

            return current_revision(connection)
    finally:
        engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_alembic_is_not_loaded_when_the_cli_starts() -> None:
    probe = "import sys, digest.cli; print('alembic' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"


def test_upgrade_reports_what_it_did_then_finds_nothing_to_do(tmp_path: Path) -> None:
    env = base_env(f"sqlite:///{tmp_path / 'digest.db'}")
    first = digest("db", "upgrade", env=env, cwd=tmp_path)
    again = digest("db", "upgrade", env=env, cwd=tmp_path)
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == f"database schema upgraded: empty -> {head_revision()}\n"
    assert again.stdout == f"database schema is current (revision {head_revision()})\n"


@pytest.mark.parametrize(
    ("backend", "trial"), [("postgresql", 0), ("postgresql", 1), ("postgresql", 2), ("sqlite", 0)]
)
def test_three_processes_starting_together_on_an_empty_database_never_race(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, trial: int
) -> None:
    if backend == "postgresql":
        url = request.getfixturevalue("empty_postgres")
    else:
        url = f"sqlite:///{tmp_path / 'digest.db'}"
    env = base_env(url)
    commands = [["db", "upgrade"], ["db", "upgrade"], ["subscribers", "list", "--json"]]
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "digest", *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in running]
    assert [(code, err) for code, _out, err in results] == [(0, "")] * 3
    assert results[2][1].strip() == "[]"
    upgraded = [out for _code, out, _err in results[:2] if "upgraded" in out]
    assert len(upgraded) <= 1
    assert stamped(url) == head_revision()


def test_an_older_schema_is_brought_to_the_head_with_the_ledger_index(
    empty_postgres: str, tmp_path: Path
) -> None:
    engine = create_engine_for(empty_postgres)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "b17e0a3c9d42")
    result = digest("db", "upgrade", env=base_env(empty_postgres), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"database schema upgraded: b17e0a3c9d42 -> {head_revision()}\n"
    indexes = {i["name"] for i in inspect(engine).get_indexes("deliveries")}
    engine.dispose()
    assert "ix_deliveries_edition_status" in indexes


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = base_env(f"sqlite:///{tmp_path / 'missing' / 'digest.db'}")
    result = digest("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: [database] url: cannot open")
    assert len(result.stderr.splitlines()) == 1

"""Shared fixtures: real SQLite files, real settings, real SMTP servers, the shared captures.

With DIGEST_TEST_DATABASE_URL set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) every
test that asks for `db_url` or `store` gets a fresh, empty PostgreSQL database on that server
instead of a SQLite file: the same suite then checks the PostgreSQL path end to end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from digest.cli.app import run
from digest.settings import Settings, load_settings
from digest.store import Store, open_store
from tests.smtpd import SmtpServer

if TYPE_CHECKING:
    from tests.websupport import Site, Sites

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
REQUIRE_SERVICES = os.environ.get("DIGEST_REQUIRE_SERVICES") == "1"
TEST_SECRET = "test-secret-key-not-for-production-0123456789"
TEST_DATABASE_URL = os.environ.get("DIGEST_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def require(available: bool, reason: str) -> None:
    """Skip when a system tool or service is absent; in CI (DIGEST_REQUIRE_SERVICES=1) fail."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared capture {path} is absent (it lives beside the project in ../shared/)")
    return path


def sqlite_only(reason: str) -> None:
    """Skip, on a PostgreSQL run, a test about SQLite itself (its files, its locks, what it
    cannot know); `reason` says why it does not apply there."""
    if ON_POSTGRES:
        pytest.skip(f"SQLite only: {reason}")


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test: a SQLite file, or an empty PostgreSQL database."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    with fresh_postgres_database(TEST_DATABASE_URL) as url:
        yield url


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """CREATE DATABASE on the server of `server_url`, yield its URL, drop it afterwards.

    A database (not a schema) per test, so advisory locks and sessions of one test never meet
    another's."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    admin_url = base.set(drivername="postgresql", database="postgres")
    try:
        admin = psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
        )
    except psycopg.Error as exc:
        require(False, f"PostgreSQL at {admin_url} is not reachable ({exc})")
        raise
    name = f"digest_t_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sites(make_settings, store: Store, smtp_server: SmtpServer) -> Iterator[Sites]:  # type: ignore[no-untyped-def]
    """Web apps served over real HTTP (uvicorn on port 0), mailing through `smtp_server`."""
    from tests.websupport import Sites  # imports this module: load it only when used

    with Sites(make_settings, store, smtp_server) as factory:
        yield factory


@pytest.fixture
def site(sites: Sites) -> Site:
    return sites()


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def digest(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Run the real `digest` entry point against a fresh database: (exit code, out, err)."""
    for key in list(os.environ):
        if key.startswith("DIGEST_") and key != "DIGEST_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    monkeypatch.setenv("DIGEST_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def make_settings(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Settings from keyword sections, e.g. make_settings(smtp={"port": 2525})."""
    for key in list(os.environ):
        if key.startswith("DIGEST_") and key != "DIGEST_REQUIRE_SERVICES":
            monkeypatch.delenv(key)

    def build(**sections: dict[str, object]) -> Settings:
        values: dict[str, object] = {
            "database": {"url": db_url},
            "site": {"base_url": "https://digest.example.org", "secret_key": [TEST_SECRET]},
        }
        for name, section in sections.items():
            merged = dict(values.get(name, {}))  # type: ignore[call-overload]
            merged.update(section)
            values[name] = merged
        return load_settings(None, **values)

    return build

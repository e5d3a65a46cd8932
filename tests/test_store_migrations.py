"""The Alembic migrations build exactly the ORM schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from digest.store.db import create_engine_for, head_revision, migrate
from digest.store.schema import Base
from tests.conftest import require

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": False}
        )
        return list(compare_metadata(context, Base.metadata))


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@pytest.fixture
def sqlite_engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


@contextmanager
def postgres_schema() -> Iterator[Engine]:
    """An engine bound to a private schema in the shared test database, dropped afterwards.

    Several suites share the PostgreSQL test database; a schema per test keeps them apart.
    """
    probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect():
            reachable = True
    except (OperationalError, ImportError):
        reachable = False
    finally:
        probe.dispose()
    require(reachable, f"PostgreSQL is not reachable at {POSTGRES_URL}")
    schema = f"digest_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    with postgres_schema() as engine:
        yield engine


def test_sqlite_migrated_schema_matches_the_models(sqlite_engine: Engine) -> None:
    assert _differences(sqlite_engine), "an empty database must differ from the models"
    migrate(sqlite_engine)
    assert _revision(sqlite_engine) == head_revision()
    assert _differences(sqlite_engine) == []
    assert set(Base.metadata.tables) <= set(inspect(sqlite_engine).get_table_names())


def test_migrating_twice_is_a_no_op(sqlite_engine: Engine) -> None:
    migrate(sqlite_engine)
    migrate(sqlite_engine)
    assert _revision(sqlite_engine) == head_revision()


def test_postgres_migrated_schema_matches_the_models(postgres_engine: Engine) -> None:
    migrate(postgres_engine)
    assert _revision(postgres_engine) == head_revision()
    assert _differences(postgres_engine) == []
    assert set(Base.metadata.tables) <= set(inspect(postgres_engine).get_table_names())

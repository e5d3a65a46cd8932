"""Opening the store: one engine per database URL, migrated to the newest schema on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets a reader (web app) and a writer (sender) work at once; busy_timeout makes a
    # second process wait for the write lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine_for(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 15})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"[database] url: cannot use {url!r} ({exc})") from None
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op (one cheap query) when already there."""
    head = head_revision()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        with engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(f"[database] url: cannot open {engine.url!r}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"database migration failed on {engine.url!r}: {exc}") from None


class Store:
    """An engine plus a session factory; the single way the rest of the code reaches SQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back entirely on any error.

        The one place a database that cannot be reached (or is locked) becomes a StoreError:
        callers above the store never see SQLAlchemy's exceptions for it."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise StoreError(f"database error on {self.engine.url!r}: {exc.orig}") from None

    def ping(self) -> None:
        """One round trip; StoreError when the database does not answer (the health check)."""
        with self.session() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if path.parent and not path.parent.exists():
            raise StoreError(f"[database] url: folder {path.parent} does not exist")
    engine = create_engine_for(url)
    migrate(engine)
    return Store(engine)

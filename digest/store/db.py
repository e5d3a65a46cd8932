"""Opening the store: one engine per database URL, migrated to the newest schema on first use.

Opening an out-of-date database upgrades it, under the same lock `digest db upgrade` takes: on
PostgreSQL a transaction-level advisory lock, on SQLite flock(2) on the file. Several processes
starting together on an empty database run the migrations once, one after the other, and the
others find the schema current.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import StoreError
from digest.store.schema_version import current_revision, head_revision

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["Store", "Upgrade", "head_revision", "migrate", "open_store", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key held while migrating: any fixed 64-bit number no other code uses.
MIGRATION_LOCK = 0x6469676573740001


def _alembic_config() -> Config:
    from alembic.config import Config  # only when there is a migration to run

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


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


@dataclass(frozen=True)
class Upgrade:
    """What an upgrade found and left: equal revisions mean there was nothing to do."""

    before: str | None
    after: str | None


def _upgrade_locked(connection: Connection) -> str | None:
    """Inside the caller's transaction: wait for the migration lock, then migrate if still due."""
    if connection.dialect.name == "postgresql":
        # Released at commit; a second process waits here, then finds the schema current.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    current = current_revision(connection)
    if current != head_revision():
        from alembic import command

        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return current


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """SQLite's counterpart of the advisory lock: flock(2) on the database file itself, which
    SQLite's own (fcntl) locks do not see. Nothing to do for other backends or :memory:."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    assert database is not None
    with Path(database).open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> Upgrade:
    """Bring the schema to the newest revision; one cheap query when it is already there."""
    head = head_revision()
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        if before == head:
            return Upgrade(before, head)
        with _sqlite_file_lock(engine), engine.begin() as connection:
            before = _upgrade_locked(connection)
    except OperationalError as exc:
        raise StoreError(f"[database] url: cannot open {engine.url!r}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        detail = " ".join(str(exc).split())
        raise StoreError(f"database migration failed on {engine.url!r}: {detail}") from None
    return Upgrade(before, head)


def migrate(engine: Engine) -> None:
    """What opening the store does: `upgrade`, result not needed."""
    upgrade(engine)


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

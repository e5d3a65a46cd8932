"""Opening the store: one engine per database URL, migrated to the newest schema on first use.

Opening an out-of-date database upgrades it, under the same lock `digest db upgrade` takes: on
PostgreSQL a transaction-level advisory lock, on SQLite flock(2) on the file. Several processes
starting together on an empty database run the migrations once, one after the other, and the
others find the schema current.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import StoreBusyError, StoreError
from digest.store.schema_version import current_revision, head_revision

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["Store", "Upgrade", "head_revision", "migrate", "open_store", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key held while migrating: any fixed 64-bit number no other code uses.
MIGRATION_LOCK = 0x6469676573740001
BUSY_MESSAGE = "database is busy: another digest process is writing; try again"
DEFAULT_BUSY_TIMEOUT = 15.0  # seconds; `[database] busy_timeout`
# What SQLite (and the pysqlite driver) says when another connection holds the lock.
_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")
T = TypeVar("T")


def _driver_message(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and any(
        word in _driver_message(exc).lower() for word in _BUSY_WORDS
    )


def translate(exc: SQLAlchemyError, url: object) -> StoreError:
    """The one place SQLAlchemy's errors become the store's: one line each, never a traceback.

    A lock held past the wait is StoreBusyError (exit 1, try again later); a file that is not a
    database names the setting; anything else that the database reported keeps its own words.
    """
    message = _driver_message(exc)
    if is_busy(exc):
        return StoreBusyError(BUSY_MESSAGE)
    if isinstance(exc, DatabaseError) and "file is not a database" in message:
        return StoreError(f"[database] url: {_shown(url)} is not an SQLite database file")
    return StoreError(f"database error on {_shown(url)}: {message}")


def _shown(url: object) -> str:
    return repr(str(url))


def retry_busy(work: Callable[[], T], *, bound: float, url: object) -> T:
    """`work()`, run again with doubling pauses while the database is busy, for at most `bound`
    seconds in all; then StoreBusyError. Only for work that holds no state between tries
    (opening, migrating): a unit of work's own statements wait in SQLite's busy handler."""
    deadline = time.monotonic() + bound
    pause = 0.05
    while True:
        try:
            return work()
        except SQLAlchemyError as exc:
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise translate(exc, url) from None
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _alembic_config() -> Config:
    from alembic.config import Config  # only when there is a migration to run

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _sqlite_pragmas(busy_timeout: float) -> Callable[[Any, Any], None]:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # busy_timeout is the bounded retry for a unit of work: SQLite's busy handler sleeps
        # with growing pauses (1 ms up to 100 ms) until the lock frees or the time is up. It is
        # set first so that switching to WAL waits too.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        # WAL lets a reader (web app) and a writer (sender) work at once.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return apply


def create_engine_for(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout})
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
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
    """SQLite's counterpart of the advisory lock: flock(2) on `<database>.migrate` beside it.

    Never on the database file itself: closing any descriptor of that file drops every POSIX
    lock this process holds on it, SQLite's own included, and other connections of the process
    would then read and write without them (the scheduler's `.leader` file follows the same
    rule). Nothing to do for other backends or :memory:."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    assert database is not None
    with Path(database + ".migrate").open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Upgrade:
    """Bring the schema to the newest revision; one cheap query when it is already there.

    Reading the revision and migrating hold nothing between tries, so a busy database is
    retried here with backoff (bounded by `busy_timeout`) before it becomes the one-line
    StoreBusyError."""
    head = head_revision()

    def read() -> str | None:
        try:
            with engine.connect() as connection:
                return current_revision(connection)
        except OperationalError as exc:
            if is_busy(exc):
                raise  # retried
            detail = _driver_message(exc)
            raise StoreError(
                f"[database] url: cannot open {_shown(engine.url)}: {detail}"
            ) from None

    def migrate_locked() -> str | None:
        with _sqlite_file_lock(engine), engine.begin() as connection:
            return _upgrade_locked(connection)

    try:
        before = retry_busy(read, bound=busy_timeout, url=engine.url)
        if before == head:
            return Upgrade(before, head)
        before = retry_busy(migrate_locked, bound=busy_timeout, url=engine.url)
    except StoreError:
        raise
    except SQLAlchemyError as exc:
        detail = " ".join(str(exc).split())
        raise StoreError(f"database migration failed on {engine.url!r}: {detail}") from None
    return Upgrade(before, head)


def migrate(engine: Engine, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """What opening the store does: `upgrade`, result not needed."""
    upgrade(engine, busy_timeout=busy_timeout)


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
            raise translate(exc, self.engine.url) from None

    def ping(self) -> None:
        """One round trip; StoreError when the database does not answer (the health check)."""
        with self.session() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store:
    """The store at `url`, migrated. `busy_timeout` bounds every wait for another writer's lock:
    past it a command stops with BUSY_MESSAGE and has changed nothing."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if path.parent and not path.parent.exists():
            raise StoreError(f"[database] url: folder {path.parent} does not exist")
    engine = create_engine_for(url, busy_timeout=busy_timeout)
    migrate(engine, busy_timeout=busy_timeout)
    return Store(engine)

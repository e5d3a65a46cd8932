"""Who holds a claim, whether they still live, and which scheduler leads.

A claim names its owner `host:pid:nonce`. A queued row whose owner is provably gone is taken over
at once instead of after the lease:

- on the same host, the owner is gone when its pid no longer exists;
- on PostgreSQL, every sender holds a session-level advisory lock on its own name for as long as
  it lives; the server drops it when the session ends, however the process died, so a peer that
  can take that lock knows the owner is dead (and gives the lock straight back).

Anything else (another host on SQLite, a lock we cannot ask about) is unknown: the lease decides.

Leadership works the same way: the scheduler that holds the leader lock (an advisory lock on
PostgreSQL, an exclusive lock on a file beside a SQLite database) runs the ticks; the others
stand by and one of them takes over at the next tick after the leader dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from digest.store.db import Store

HOST = socket.gethostname()[:40]
# Advisory lock namespaces (the first key of PostgreSQL's two-key form): "pd" + a purpose.
_WORKER_LOCKS = 0x7064_0001
_LEADER_LOCK = (0x7064_0002, 1)


def wall_clock() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """Who holds a claim: host, pid and a nonce (a restarted process never reuses a claim)."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def _key(worker: str) -> int:
    return int.from_bytes(hashlib.blake2b(worker.encode(), digest_size=4).digest(), signed=True)


def _own_session(store: Store) -> Connection:
    """A connection of its own, out of the pool: closing it ends the database session, and
    with it the advisory locks it holds (a pooled connection would keep them)."""
    connection = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    connection.detach()
    return connection


def _release(connection: Connection) -> None:
    """Unlock, then end the session. Closing alone frees the locks only once the server has
    noticed the disconnect, a moment later: a peer asking at once would still find them held."""
    try:
        connection.execute(select(func.pg_advisory_unlock_all()))
    except SQLAlchemyError:
        pass  # the session is gone already, and its locks with it
    finally:
        connection.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Liveness:
    """This process's proof of life, and the question "is that claimer still alive?".

    `alive(owner)` is True (provably alive), False (provably dead) or None (cannot tell)."""

    def __init__(self, store: Store, worker: str) -> None:
        self.worker = worker
        self._connection: Connection | None = None
        if store.engine.dialect.name == "postgresql":
            self._connection = _own_session(store)
            self._connection.execute(select(func.pg_advisory_lock(_WORKER_LOCKS, _key(worker))))

    def alive(self, owner: str) -> bool | None:
        if owner == self.worker:
            return True
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host == HOST and pid_text.isdigit() and not _pid_alive(int(pid_text)):
            return False
        if self._connection is not None:
            key = _key(owner)
            taken = self._connection.scalar(select(func.pg_try_advisory_lock(_WORKER_LOCKS, key)))
            if taken:
                self._connection.execute(select(func.pg_advisory_unlock(_WORKER_LOCKS, key)))
                return False
            return True
        return True if host == HOST else None

    def close(self) -> None:
        if self._connection is not None:
            _release(self._connection)
            self._connection = None


class Leadership:
    """Held by at most one scheduler per database at a time; kept for the process's life."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None
        self.leading = False

    def try_lead(self) -> bool:
        """Lead if nobody does; once leading, stay so. Cheap enough to ask every tick."""
        if self.leading:
            return True
        engine = self._store.engine
        if engine.dialect.name == "postgresql":
            if self._connection is None:
                self._connection = _own_session(self._store)
            self.leading = bool(
                self._connection.scalar(select(func.pg_try_advisory_lock(*_LEADER_LOCK)))
            )
        elif engine.url.database in (None, "", ":memory:"):
            self.leading = True
        else:
            path = Path(engine.url.database + ".leader")
            handle = path.open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._file = handle
            self.leading = True
        return self.leading

    def close(self) -> None:
        if self._connection is not None:
            _release(self._connection)
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self.leading = False

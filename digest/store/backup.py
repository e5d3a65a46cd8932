"""A consistent copy of a SQLite database while other processes use it.

A plain `cp` of a WAL-mode database misses whatever still sits in the `-wal` file (an operator
got an empty ledger that way); SQLite's online backup API copies the database as one snapshot,
a batch of pages at a time, letting writers carry on between batches.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from digest.errors import ConfigError, StoreError

PAGES_PER_STEP = 1024


def sqlite_path(url: str) -> Path:
    """The file behind a `sqlite:///` URL; ConfigError for any other database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"[database] url: cannot parse {url!r}") from None
    if parsed.get_backend_name() != "sqlite":
        raise ConfigError(
            "digest backup copies SQLite databases; for PostgreSQL use pg_dump "
            "(e.g. pg_dump --format=custom --file=digest.dump DBNAME)"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise ConfigError("[database] url: an in-memory database has nothing to back up")
    return Path(parsed.database)


def backup_sqlite(url: str, target: Path) -> int:
    """Copy the database of `url` to `target` (a new file), returning its size in bytes.

    Written to a temporary file beside `target` and renamed when complete and checked, so a
    failure leaves no half-written backup behind."""
    source = sqlite_path(url)
    if not source.is_file():
        raise ConfigError(f"[database] url: {source} does not exist")
    if target.exists():
        raise ConfigError(f"{target}: already exists; give a new file name")
    if not target.parent.is_dir():
        raise ConfigError(f"{target.parent}: no such folder")
    partial = target.with_name(f".{target.name}.partial")
    try:
        reader = sqlite3.connect(source, timeout=15)
        try:
            writer = sqlite3.connect(partial)
            try:
                reader.backup(writer, pages=PAGES_PER_STEP)
                checked = writer.execute("PRAGMA quick_check").fetchone()
                if checked is None or checked[0] != "ok":
                    raise StoreError(f"{target}: the copy does not check out ({checked})")
                # A backup is one self-contained file, whatever the source's journal mode.
                writer.execute("PRAGMA journal_mode=DELETE")
            finally:
                writer.close()
        finally:
            reader.close()
        partial.replace(target)
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {source} failed: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return target.stat().st_size

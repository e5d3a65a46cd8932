"""Settings and store, opened on first use and closed once: what every shell needs.

A command that fails on its arguments should not read settings, and one that only reads
settings should not open (and migrate) the database; so both are lazy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when first used: pydantic and SQLAlchemy are slow to import
    from digest.settings import Settings
    from digest.store import Store


@dataclass
class Runtime:
    config_path: Path | None
    _settings: Settings | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from digest.settings import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from digest.store import open_store

            self._store = open_store(self.settings.database.url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None

"""Persistence: schema, migrations, and repositories that speak in `digest.models` types."""

from digest.store.db import Store, open_store

__all__ = ["Store", "open_store"]

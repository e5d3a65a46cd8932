"""Which schema revision the code expects and which one a database carries, without Alembic.

Every command opens the store, and most find the schema already current; reading the revision
ids from the migration files and `alembic_version` with one query keeps Alembic (and its
start-up cost) out of those commands. Alembic is imported only when there is work to do.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, inspect, text

VERSIONS = Path(__file__).with_name("migrations") / "versions"
VERSION_TABLE = "alembic_version"


def _ids(path: Path) -> tuple[str | None, set[str]]:
    """(revision, down revisions) of one migration file, read from its module-level assignments."""
    revision: str | None = None
    down: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        value = ast.literal_eval(node.value)
        if target.id == "revision" and isinstance(value, str):
            revision = value
        elif target.id == "down_revision" and value:
            down |= {value} if isinstance(value, str) else set(value)
    return revision, down


@cache
def head_revision() -> str | None:
    """The one revision no other migration names as its parent (the chain is linear)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name == "__init__.py":
            continue
        revision, down = _ids(path)
        if revision is not None:
            revisions.add(revision)
        parents |= down
    heads = sorted(revisions - parents)
    if len(heads) > 1:
        raise RuntimeError(f"migrations in {VERSIONS} have several heads: {', '.join(heads)}")
    return heads[0] if heads else None


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the database; None for an empty one."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608

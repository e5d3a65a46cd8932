"""`digest db upgrade`: bring the database schema to the newest revision.

Every other command also upgrades an out-of-date schema when it opens the store, under the same
lock, so a deploy need not order its processes; running this first just makes the step explicit
(and its failure visible) before the services start.
"""

from __future__ import annotations

import click

from digest.cli.app import AppContext, cli, pass_app
from digest.store.db import create_engine_for, upgrade


@cli.group("db")
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_app
def upgrade_(app: AppContext) -> None:
    """Apply the migrations the database lacks (safe when several processes run it at once)."""
    engine = create_engine_for(app.settings.database.url)
    try:
        done = upgrade(engine)
    finally:
        engine.dispose()
    if done.before == done.after:
        click.echo(f"database schema is current (revision {done.after})")
    else:
        click.echo(f"database schema upgraded: {done.before or 'empty'} -> {done.after}")
